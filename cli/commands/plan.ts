/**
 * `amad plan <spec> [--instance-types <a,b>] [--throughputs <table.json>] [--counts <counts.json>] [--json]`: prints the
 * scale plan — every data-sized stage with its placement (Lambda, Batch CPU or GPU queue), how
 * many invocations, the worst invocation's estimated time against its limit, the bytes written
 * and the estimated cost (prices and their date stated) — then the execution-history events and
 * the largest state against the Step Functions limits. Exit 1 when anything does not fit.
 * `--instance-types` plans for a deployment's GPU instance types (its CDK context
 * `instanceTypes`): GPU stages are estimated with the slowest of them, as the Validate stage of
 * that deployment does.
 */
import { promises as fs } from 'node:fs';
import { runUriFor } from '../../contract/layout';
import { planRunWithoutPlacement } from '../../contract/plan';
import {
  deploymentGpuInstanceTypes,
  parseInstanceTypeList,
  parseThroughputTable,
  planScale,
  PRICES,
  resolveThroughputs,
  specGpuInstanceTypes,
  type DataCounts,
  type GpuInstanceTypes,
  type PlannedGpu,
  type ScalePlan,
  type StagePlan,
} from '../../contract/placement';
import { instancePrice } from '../../contract/placement/prices';
import type { CommandDeps } from './deps';
import { readSpecFile } from './spec-file';
import { checkOnnxTeacherOfSpec } from '../../trainer/onnx/check-spec';

export interface PlanArgs {
  readonly spec: string;
  /** The deployment's GPU instance types, comma-separated (its CDK context `instanceTypes`). */
  readonly instanceTypes?: string;
  /** A throughput table replacing contract/placement/throughputs.json (e.g. from `npm run bench -- scale`). */
  readonly throughputs?: string;
  /** Data counts `{ examples: {train,val,test}, images: {train,val,test} }` when the spec's cannot be known. */
  readonly counts?: string;
  readonly json?: boolean;
}

async function readJson(file: string, what: string): Promise<unknown> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (e) {
    throw new Error(`cannot read ${what} ${file}: ${(e as Error).message}`);
  }
}

const fmtSeconds = (s: number) => (!Number.isFinite(s) ? '?' : s < 120 ? `${s.toFixed(0)} s` : s < 7200 ? `${(s / 60).toFixed(1)} min` : `${(s / 3600).toFixed(1)} h`);
const fmtBytes = (b: number | null) => (b === null ? '?' : b < 1e6 ? `${(b / 1e3).toFixed(0)} kB` : b < 1e9 ? `${(b / 1e6).toFixed(0)} MB` : `${(b / 1e9).toFixed(1)} GB`);
const fmtUsd = (c: number | null) => (c === null ? '?' : `$${c < 10 ? c.toFixed(2) : c.toFixed(0)}`);
/** Which GPU the GPU stages were estimated with, and why that one. */
function gpuLine(gpu: PlannedGpu): string {
  const listed = gpu.instanceTypes.join(', ');
  const chosen =
    gpu.instanceType === null
      ? 'none (no listed type has a throughput entry)'
      : gpu.instanceTypes.length > 1
        ? `${gpu.instanceType} (the slowest of ${listed} with a throughput entry: Batch may place a job on any of them)`
        : gpu.instanceType;
  const price = gpu.instanceType !== null && instancePrice(gpu.instanceType) === undefined ? `; no price for ${gpu.instanceType} in contract/placement/prices.ts, so GPU costs are left open` : '';
  return `GPU instance type: ${chosen}; from ${gpu.source}${price}`;
}

const where = (s: StagePlan) => (s.placement === 'lambda' ? 'Lambda' : s.queue === 'cpu' ? 'Batch CPU queue' : 'Batch GPU queue');

/** The plan as text lines (also used by the scale benchmark). */
export function formatScalePlan(plan: ScalePlan, title: string): string[] {
  const lines = [
    `scale plan of ${title}`,
    `data counts: ${plan.placement.counts ? plan.placement.counts.source : 'unknown (pass --counts): invocations, events and cost left open'}`,
    gpuLine(plan.placement.gpu),
    '',
  ];
  lines.push('| stage | placement | per invocation | invocations | worst invocation / limit | memory / limit | bytes written | est. cost |');
  lines.push('|---|---|---:|---:|---:|---:|---:|---:|');
  for (const s of plan.placement.stages) {
    const pct = Number.isFinite(s.worstSeconds) ? ` (${Math.round((100 * s.worstSeconds) / s.limitSeconds)}%)` : '';
    lines.push(
      `| ${s.stage} | ${where(s)}${s.pinned && s.unit !== 'job' ? ' (pinned)' : ''} | ${s.perInvocation} ${s.unit} | ${s.invocations ?? '?'} | ${fmtSeconds(s.worstSeconds)} / ${fmtSeconds(s.limitSeconds)}${pct} | ${s.memoryMb ? `${Math.round(s.memoryMb.estimate)} / ${s.memoryMb.limit} MB` : '–'} | ${fmtBytes(s.bytesWritten)} | ${fmtUsd(s.costUsd)} |`,
    );
  }
  const ev = plan.events;
  const st = plan.stateBytes;
  lines.push('');
  lines.push(`execution history: ${ev.estimate ?? '?'} events of a successful run (limit ${ev.limit})`);
  lines.push(`largest state: ${st.estimate ?? '?'} bytes (limit ${st.limit})`);
  lines.push(`estimated cost: ${fmtUsd(plan.costUsd)} (on-demand; ${PRICES.region} prices as of ${PRICES.asOf}; Spot is typically 50–70% less)`);
  lines.push(`margin: every invocation must be estimated at ≤ ${Math.round(plan.placement.margin * 100)}% of its limit`);
  lines.push('throughputs used:');
  const used = new Set(plan.placement.stages.flatMap((s) => s.rates));
  for (const e of plan.placement.throughputs.table.entries.filter((x) => used.has(x.id))) {
    lines.push(`  - ${e.id} (${e.kind}${e.measuredAt ? `, ${e.measuredAt}` : ''}): ${e.raw} — ${e.command}`);
  }
  if (plan.problems.length) {
    lines.push('', 'DOES NOT FIT:');
    for (const p of plan.problems) lines.push(`  - ${p}`);
  } else lines.push('', 'fits: every invocation within its limit with margin, state and history within the Step Functions limits');
  return lines;
}

export async function planCommand(args: PlanArgs, deps: CommandDeps): Promise<number> {
  const r = await readSpecFile(args.spec, deps);
  if (!r.ok) return 1;
  try {
    await checkOnnxTeacherOfSpec(r.spec); // a teacher given as ONNX must match its sidecar and fit the students
  } catch (e) {
    deps.err(`${args.spec}: ${(e as Error).message}`);
    return 1;
  }
  // The flag, else the deployment this shell plans for (the variable Validate gets), else the spec.
  let gpuInstanceTypes: GpuInstanceTypes;
  try {
    gpuInstanceTypes =
      args.instanceTypes !== undefined
        ? { types: parseInstanceTypeList(args.instanceTypes, '--instance-types'), source: '--instance-types', fix: 'change --instance-types' }
        : (deploymentGpuInstanceTypes(deps.env) ?? specGpuInstanceTypes(r.spec.compute.instanceTypes));
  } catch (e) {
    deps.err((e as Error).message);
    return 1;
  }
  const throughputs = args.throughputs ? resolveThroughputs(parseThroughputTable(await readJson(args.throughputs, 'throughput table'), args.throughputs)) : undefined;
  const counts = args.counts ? ({ source: args.counts, ...(await readJson(args.counts, 'data counts')) as object } as DataCounts) : undefined;
  const runId = r.spec.runId ?? 'preview';
  const base = planRunWithoutPlacement(r.spec, runId, runUriFor('s3://' + 'b'.repeat(63), runId));
  const plan = planScale(r.spec, base, { throughputs, counts, gpuInstanceTypes });
  if (args.json) deps.out(JSON.stringify({ ...plan, placement: { ...plan.placement, throughputs: plan.placement.throughputs.table } }, null, 2));
  else for (const line of formatScalePlan(plan, args.spec)) deps.out(line);
  return plan.problems.length ? 1 : 0;
}
