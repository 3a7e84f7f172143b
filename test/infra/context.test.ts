/** The CDK context → PipelineContext parsing: defaults, string forms, one error per rule. */
import { App } from 'aws-cdk-lib';
import { CONTEXT_DEFAULTS, parsePipelineContext, readPipelineContext } from '../../infra/context';

describe('parsePipelineContext', () => {
  test('an empty context gives the documented defaults', () => {
    expect(parsePipelineContext({})).toEqual({
      instanceTypes: ['g5.xlarge', 'g4dn.xlarge'],
      spot: true,
      maxVCpus: CONTEXT_DEFAULTS.maxVCpus,
      maxAzs: 2,
      retentionDays: 30,
      scratchExpirationDays: 14,
      costCenter: 'amad-distill',
    });
  });

  test('accepts the string forms that `cdk -c key=value` produces', () => {
    // GIVEN strings as the CLI passes them
    const raw = { instanceTypes: 'g6.xlarge, g5.2xlarge', spot: 'FALSE', maxVCpus: '32', retentionDays: '90', notificationEmail: 'a@b.io' };
    // WHEN
    const ctx = parsePipelineContext(raw);
    // THEN
    expect(ctx).toMatchObject({ instanceTypes: ['g6.xlarge', 'g5.2xlarge'], spot: false, maxVCpus: 32, retentionDays: 90, notificationEmail: 'a@b.io' });
  });

  test('reads the keys from an app context (cdk.json / -c)', () => {
    const app = new App({ context: { maxVCpus: 4, costCenter: 'cc-7', '@aws-cdk/core:somethingElse': true } });
    expect(readPipelineContext(app.node)).toMatchObject({ maxVCpus: 4, costCenter: 'cc-7' });
  });

  test.each<[string, Record<string, unknown>, RegExp]>([
    ['instanceTypes format', { instanceTypes: 'g5 xlarge' }, /context key "instanceTypes\[0\]": must look like "g5.xlarge" \(got "g5 xlarge"\)/],
    ['instanceTypes empty', { instanceTypes: ' , ' }, /context key "instanceTypes": must name at least one instance type/],
    ['spot boolean', { spot: 'yes' }, /context key "spot": must be true or false \(got "yes"\)/],
    ['maxVCpus number', { maxVCpus: 'lots' }, /context key "maxVCpus": must be a number \(got "lots"\)/],
    ['maxVCpus integer', { maxVCpus: 2.5 }, /context key "maxVCpus": must be an integer \(got 2.5\)/],
    ['maxVCpus positive', { maxVCpus: 0 }, /context key "maxVCpus": must be at least 1 \(got 0\)/],
    ['maxAzs bound', { maxAzs: '7' }, /context key "maxAzs": must be at most 6 \(got "7"\)/],
    ['retentionDays allowed value', { retentionDays: 31 }, /context key "retentionDays": must be one of the CloudWatch Logs retention periods 1, 3, 5, 7, 14, 30, .* \(got 31\)/],
    ['scratchExpirationDays bound', { scratchExpirationDays: 4000 }, /context key "scratchExpirationDays": must be at most 3650 \(got 4000\)/],
    ['notificationEmail format', { notificationEmail: 'team-at-example' }, /context key "notificationEmail": must be an e-mail address \(got "team-at-example"\)/],
    ['costCenter characters', { costCenter: 'a<b>' }, /context key "costCenter": must be 1–256 letters, digits, spaces or/],
    ['unknown key', { maxVcpus: 4 }, /unknown context key\(s\) "maxVcpus": known keys are instanceTypes, spot, maxVCpus/],
  ])('rejects %s', (_rule, raw, message) => {
    expect(() => parsePipelineContext(raw)).toThrow(message);
  });

  test('reports every bad key at once', () => {
    expect(() => parsePipelineContext({ spot: 'maybe', maxVCpus: -1 })).toThrow(/"spot".*; context key "maxVCpus"/);
  });
});
