/**
 * `amad submit <spec>`: sends the spec as a DistillationRequested event to the deployed event
 * bus, which starts a run on AWS (lambdas/start-run). Prints the run id.
 */
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { DISTILLATION_REQUESTED, EVENT_SOURCE } from '../../contract/events';
import { required, type CommandDeps } from './deps';
import { readSpecFile, resolveRunId } from './spec-file';

export interface SubmitArgs {
  readonly spec: string;
  readonly runId?: string;
  /** Event bus name or ARN. @default AMAD_EVENT_BUS */
  readonly bus?: string;
  /** Re-run an existing run id (its completed stages are skipped). */
  readonly resume?: boolean;
}

/** EventBridge's limit on one entry (256 KB). */
const MAX_EVENT_BYTES = 256 * 1024;

export async function submitCommand(args: SubmitArgs, deps: CommandDeps): Promise<number> {
  const bus = required(args.bus, deps.env, 'AMAD_EVENT_BUS', '--bus');
  // Fail here, not minutes later in the Validate Lambda.
  const parsed = await readSpecFile(args.spec, deps);
  if (!parsed.ok) return 1;
  const runId = resolveRunId(args.runId, parsed.spec, args.spec, deps);
  if (runId === null) return 2;
  const detail = JSON.stringify({ ...parsed.raw, runId, ...(args.resume ? { resume: true } : {}) });
  if (Buffer.byteLength(detail) > MAX_EVENT_BYTES) {
    deps.err(`the spec is ${Buffer.byteLength(detail)} bytes, over EventBridge's 256 KB: upload it to the bucket's jobs/ prefix instead`);
    return 1;
  }
  const r = await deps.eventBridge().send(
    new PutEventsCommand({ Entries: [{ EventBusName: bus, Source: EVENT_SOURCE, DetailType: DISTILLATION_REQUESTED, Detail: detail }] }),
  );
  const failed = r.Entries?.find((e) => e.ErrorCode);
  if ((r.FailedEntryCount ?? 0) > 0 || failed) {
    deps.err(`EventBridge refused the event: ${failed?.ErrorCode ?? 'unknown'}: ${failed?.ErrorMessage ?? ''}`);
    return 1;
  }
  deps.err(`submitted to ${bus} (event ${r.Entries?.[0]?.EventId ?? '?'}); follow it with: amad status ${runId} --aws`);
  deps.out(runId);
  return 0;
}
