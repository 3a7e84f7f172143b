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
      maxJobMinutes: 2880,
      maxJobAttempts: 5,
      runnableTimeoutMinutes: 240,
      modelMemoryMB: 3008,
      readableBuckets: [],
    });
  });

  test('accepts the string forms that `cdk -c key=value` produces', () => {
    // GIVEN strings as the CLI passes them
    const raw = { instanceTypes: 'p3.2xlarge, g5.2xlarge', spot: 'FALSE', maxVCpus: '32', retentionDays: '90', notificationEmail: 'a@b.io', readableBuckets: 'team-data, shared.models' };
    // WHEN
    const ctx = parsePipelineContext(raw);
    // THEN
    expect(ctx).toMatchObject({ instanceTypes: ['p3.2xlarge', 'g5.2xlarge'], spot: false, maxVCpus: 32, retentionDays: 90, notificationEmail: 'a@b.io', readableBuckets: ['team-data', 'shared.models'] });
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
    ['g6 (Ada)', { instanceTypes: 'g5.xlarge,g6.xlarge' }, /context key "instanceTypes\[1\]": g6\.xlarge is refused: its NVIDIA L4 \(Ada, compute capability 8\.9\) is newer than the CUDA 11\.2 \/ cuDNN 8\.1 build .*; use one of the families g4dn, g5, p3, p3dn, p4d, p4de \(got "g5.xlarge,g6.xlarge"\)/],
    ['g6e (Ada)', { instanceTypes: ['g6e.xlarge'] }, /g6e\.xlarge is refused: its NVIDIA L40S \(Ada, compute capability 8\.9\)/],
    ['p5 (Hopper)', { instanceTypes: ['p5.48xlarge'] }, /p5\.48xlarge is refused: its NVIDIA H100 \(Hopper, compute capability 9\.0\) is newer than/],
    ['an unknown family', { instanceTypes: ['m5.xlarge'] }, /m5\.xlarge is not a supported GPU type: use one of the families g4dn, g5/],
    ['maxJobMinutes above 7 days', { maxJobMinutes: 20000 }, /context key "maxJobMinutes": must be at most 10080 \(got 20000\)/],
    ['maxJobAttempts above the Batch limit', { maxJobAttempts: 11 }, /context key "maxJobAttempts": must be at most 10 \(got 11\)/],
    ['runnableTimeoutMinutes below the Batch limit', { runnableTimeoutMinutes: 5 }, /context key "runnableTimeoutMinutes": must be at least 10 \(Batch limit\) \(got 5\)/],
    ['modelMemoryMB below 3008', { modelMemoryMB: 2048 }, /context key "modelMemoryMB": must be at least 3008/],
    ['modelMemoryMB above 10240', { modelMemoryMB: 20000 }, /context key "modelMemoryMB": must be at most 10240/],
    ['readableBuckets given as URIs', { readableBuckets: 's3://team-data/x' }, /context key "readableBuckets\[0\]": must be an S3 bucket name .*no s3:\/\/ and no key/],
    ['unknown key', { maxVcpus: 4 }, /unknown context key\(s\) "maxVcpus": known keys are instanceTypes, spot, maxVCpus/],
  ])('rejects %s', (_rule, raw, message) => {
    expect(() => parsePipelineContext(raw)).toThrow(message);
  });

  test('reports every bad key at once', () => {
    expect(() => parsePipelineContext({ spot: 'maybe', maxVCpus: -1 })).toThrow(/"spot".*; context key "maxVCpus"/);
  });
});
