/** `amad report <runId>`: where the run's report is (a local path or its S3 URI). */
import { fileURLToPath } from 'node:url';
import { runLayout, runUriFor } from '../../contract/layout';
import { isLocal, storageFor } from '../../contract/storage';
import { artifactRoot, type CommandDeps } from './deps';

export interface ReportArgs {
  readonly runId: string;
  /** Folder or s3:// prefix holding `runs/`. @default AMAD_ARTIFACT_ROOT or "." */
  readonly root?: string;
}

export async function reportCommand(args: ReportArgs, deps: CommandDeps): Promise<number> {
  const runUri = runUriFor(artifactRoot(args.root, deps.env), args.runId);
  const layout = runLayout(runUri);
  if (!(await storageFor(layout.reportIndex).exists(layout.reportIndex))) {
    const failed = await storageFor(layout.failure).exists(layout.failure);
    deps.err(
      failed
        ? `run ${args.runId} failed before its report: see ${isLocal(layout.failure) ? fileURLToPath(layout.failure) : layout.failure}`
        : `no report for run ${args.runId} at ${runUri} yet: check it with \`amad status ${args.runId}\``,
    );
    return 1;
  }
  for (const uri of [layout.reportIndex, layout.reportMetrics, layout.reportSummary]) {
    deps.out(isLocal(uri) ? fileURLToPath(uri) : uri);
  }
  return 0;
}
