/** Finding a run's Step Functions executions and Batch jobs on AWS (status, cancel). */
import { ListJobsCommand, type BatchClient, type JobSummary } from '@aws-sdk/client-batch';
import { ListExecutionsCommand, type ExecutionListItem, type SFNClient } from '@aws-sdk/client-sfn';

/** Batch job states in which a job still holds or waits for capacity. */
export const ACTIVE_JOB_STATES = new Set(['SUBMITTED', 'PENDING', 'RUNNABLE', 'STARTING', 'RUNNING']);

/**
 * Executions of a run, newest first: the first is named after the run id, resumes are named
 * `<runId>-r<time>` (lambdas/start-run).
 */
export async function findRunExecutions(sfn: SFNClient, stateMachineArn: string, runId: string, maxPages = 20): Promise<ExecutionListItem[]> {
  const out: ExecutionListItem[] = [];
  const resume = new RegExp(`^${runId.replace(/[-]/g, '\\-')}-r[0-9a-z]+$`);
  let nextToken: string | undefined;
  for (let page = 0; page < maxPages; page++) {
    const r = await sfn.send(new ListExecutionsCommand({ stateMachineArn, nextToken, maxResults: 1000 }));
    for (const e of r.executions ?? []) if (e.name === runId || resume.test(e.name ?? '')) out.push(e);
    nextToken = r.nextToken;
    if (!nextToken) break;
  }
  return out.sort((a, b) => (b.startDate?.getTime() ?? 0) - (a.startDate?.getTime() ?? 0));
}

/**
 * Batch jobs of a run: job names start with `<runId>-` (contract/trainer-job). A run id that is a
 * prefix of another run's id plus "-" would also match that run's jobs; generated ids never are.
 */
export async function listRunJobs(batch: BatchClient, jobQueue: string, runId: string, maxPages = 20): Promise<JobSummary[]> {
  const out: JobSummary[] = [];
  let nextToken: string | undefined;
  for (let page = 0; page < maxPages; page++) {
    // With a filter, ListJobs returns jobs in every status (jobStatus is ignored).
    const r = await batch.send(new ListJobsCommand({ jobQueue, filters: [{ name: 'JOB_NAME', values: [`${runId}-*`] }], nextToken }));
    out.push(...(r.jobSummaryList ?? []));
    nextToken = r.nextToken;
    if (!nextToken) break;
  }
  return out.sort((a, b) => (a.jobName ?? '').localeCompare(b.jobName ?? ''));
}
