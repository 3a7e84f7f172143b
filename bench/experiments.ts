/**
 * `npm run experiments [-- --quick] [--tasks vqa,captioning,translation] [--root <dir>]`
 *
 * Runs the paper's comparison (bench/experiments-spec.ts) through the local pipeline — the same
 * state machine as `amad run` — one run per task, then writes docs/RESULTS.md from the runs'
 * evaluation files: per task and student head count, mean ± std over seeds of the task metric
 * for every variant, the teacher, the speed-up, paired comparisons with AMAD, the exact command,
 * commit, machine and date. Completed stages are reused (the runs resume), so an interrupted
 * experiment continues where it stopped.
 */
import { execSync } from 'node:child_process';
import { mkdirSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import '../cli/polyfills';
import { readStageMarker, runLayout, runUriFor, Stage, studentModelId, TEACHER_MODEL_ID } from '../contract/layout';
import { toUri } from '../contract/storage';
import { runCommand } from '../cli/commands/run';
import { defaultDeps } from '../cli/commands/deps';
import { EvalResultSchema, type EvalResult } from '../trainer/eval/result-schema';
import { pairedComparison, summarizeSeeds } from '../trainer/eval';
import { barChart } from '../trainer/report/svg';
import { EXPERIMENT_TASKS, experimentSpec, VARIANTS, type ExperimentTask } from './experiments-spec';

interface Args {
  quick: boolean;
  tasks: ExperimentTask[];
  root: string;
  out: string;
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { quick: false, tasks: [...EXPERIMENT_TASKS], root: 'runs-experiments', out: 'docs/RESULTS.md' };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--quick') a.quick = true;
    else if (flag === '--tasks') a.tasks = (argv[++i] ?? '').split(',').filter(Boolean) as ExperimentTask[];
    else if (flag === '--root') a.root = argv[++i];
    else if (flag === '--out') a.out = argv[++i];
    else throw new Error(`unknown argument ${flag} (use --quick, --tasks vqa,captioning,translation, --root <dir>, --out <file>)`);
  }
  for (const t of a.tasks) if (!EXPERIMENT_TASKS.includes(t)) throw new Error(`--tasks: unknown task "${t}" (${EXPERIMENT_TASKS.join(', ')})`);
  return a;
}

async function readEval(runUri: string, modelId: string): Promise<EvalResult | undefined> {
  const file = fileURLToPath(runLayout(runUri).evalFile(modelId));
  if (!existsSync(file)) return undefined;
  return EvalResultSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
}

const fmt = (x: number, scale: number) => (x * scale).toFixed(scale === 100 ? 1 : 3);

interface TaskResult {
  readonly task: ExperimentTask;
  readonly status: number;
  readonly minutes: number;
  readonly markdown: string;
  /** Metric, teacher value and per-variant mean/std for the smallest student head count (README table, plot). */
  readonly headline?: { metric: string; scale: number; heads: number; teacher: number; variants: { name: string; mean: number; std: number; n: number }[] };
}

/**
 * Minutes from the run's Validate marker to its Report marker: the run's own time, also when this
 * invocation only resumed it (then `fallback`, this invocation's time, would understate it).
 */
async function runMinutes(runUri: string, fallback: number): Promise<number> {
  const [start, end] = await Promise.all([readStageMarker(runUri, Stage.validate), readStageMarker(runUri, Stage.report)]);
  if (!start || !end) return fallback;
  return (Date.parse(end.committedAt) - Date.parse(start.committedAt)) / 60000;
}

async function summariseTask(task: ExperimentTask, quick: boolean, root: string, status: number, invocationMinutes: number): Promise<TaskResult> {
  const spec = experimentSpec(task, { quick });
  const runUri = runUriFor(toUri(root), spec.runId!);
  const minutes = await runMinutes(runUri, invocationMinutes);
  const teacher = await readEval(runUri, TEACHER_MODEL_ID);
  const lines: string[] = [`## ${task}${quick ? ' (quick)' : ''}`, ''];
  if (!teacher) {
    lines.push(`No teacher evaluation: the run did not finish (exit status ${status}). See ${path.join(root, 'runs', spec.runId!)}/failure.json.`, '');
    return { task, status, minutes, markdown: lines.join('\n') };
  }
  const metric = teacher.primaryMetric;
  const scale = metric === 'ciderD' || metric === 'cider' ? 1 : 100;
  const unit = scale === 100 ? ' (%)' : '';
  const teacherLatency = teacher.cost.latency.batch32.p50;
  lines.push(
    `Metric: **${metric}**${unit} on the test split (${teacher.count} examples), mean ± sample std over seeds; speed-up = teacher p50 latency / student p50 latency at batch 32 (${teacher.cost.latency.backend}). ` +
      `Teacher: ${fmt(teacher.metrics[metric], scale)} (8 heads, ${(teacher.cost.params / 1e3).toFixed(0)} k params, ${teacherLatency.toFixed(1)} ms per batch of 32).`,
    '',
  );
  const headsList = [...new Set(spec.students.map((s) => Number(s.name.match(/-h(\d+)$/)![1])))].sort((a, b) => a - b);
  const losses: string[] = [];
  let headline: TaskResult['headline'];
  for (const h of headsList) {
    lines.push(`### Students with ${h} heads`, '', `| variant | ${metric}${unit} | n | Δ vs AMAD kl (paired) | p (two-sided) | params | speed-up |`, '|---|---:|---:|---:|---:|---:|---:|');
    const perVariant = new Map<string, { seeds: number[]; values: number[]; latency?: number; params?: number }>();
    for (const name of Object.keys(VARIANTS)) {
      const student = spec.students.find((s) => s.name === `${name}-h${h}`)!;
      const entry = { seeds: [] as number[], values: [] as number[], latency: undefined as number | undefined, params: undefined as number | undefined };
      for (const seed of student.seeds ?? [0]) {
        const e = await readEval(runUri, studentModelId(student.name, seed));
        if (!e) continue;
        entry.seeds.push(seed);
        entry.values.push(e.metrics[metric]);
        entry.latency ??= e.cost.latency.batch32.p50;
        entry.params ??= e.cost.params;
      }
      perVariant.set(name, entry);
    }
    const amad = perVariant.get('amad-kl')!;
    if (h === headsList[0]) {
      headline = {
        metric,
        scale,
        heads: h,
        teacher: teacher.metrics[metric],
        variants: [...perVariant].filter(([, v]) => v.values.length > 0).map(([name, v]) => ({ name, ...summarizeSeeds(v.values) })),
      };
    }
    for (const [name, v] of perVariant) {
      if (v.values.length === 0) {
        lines.push(`| ${name} | failed or missing | 0 | | | | |`);
        continue;
      }
      const s = summarizeSeeds(v.values);
      let delta = '';
      let p = '';
      if (name !== 'amad-kl') {
        const shared = v.seeds.filter((seed) => amad.seeds.includes(seed));
        if (shared.length >= 2) {
          const c = pairedComparison(
            shared.map((seed) => amad.values[amad.seeds.indexOf(seed)]),
            shared.map((seed) => v.values[v.seeds.indexOf(seed)]),
          );
          delta = `${c.meanDiff >= 0 ? '+' : ''}${fmt(c.meanDiff, scale)}`;
          p = Number.isFinite(c.p) ? c.p.toFixed(3) : '–';
          // Baselines only: the other AMAD variants are compared in the table, not "beaten".
          const baseline = !name.startsWith('amad-');
          if (baseline && c.meanDiff <= 0) losses.push(`${h} heads: AMAD kl did **not** beat ${name} (Δ ${delta}, p ${p}).`);
          else if (baseline && !(c.p < 0.05)) losses.push(`${h} heads: AMAD kl's lead over ${name} (Δ ${delta}) is not significant (p ${p}, n = ${shared.length}).`);
        }
      }
      const speedup = v.latency ? (teacherLatency / v.latency).toFixed(2) + '×' : '–';
      lines.push(`| ${name} | ${fmt(s.mean, scale)} ± ${fmt(s.std, scale)} | ${s.n} | ${delta} | ${p} | ${((v.params ?? 0) / 1e3).toFixed(0)} k | ${speedup} |`);
    }
    lines.push('');
  }
  lines.push('Where AMAD did not win:', '', ...(losses.length ? losses.map((l) => `- ${l}`) : ['- nowhere in this run (every baseline is below AMAD kl with p < 0.05).']), '');
  lines.push(`Report: \`${path.join(root, 'runs', spec.runId!, 'report', 'index.html')}\` (regenerated by the command; \`runs-experiments/\` is not committed). Run time: ${minutes.toFixed(1)} min.`, '');
  return { task, status, minutes, markdown: lines.join('\n'), headline };
}

/** A bar chart per task (smallest head count, error bars = std over seeds), for docs and README. */
function writePlot(r: TaskResult, dir: string): string | undefined {
  const h = r.headline;
  if (!h) return undefined;
  const file = path.join(dir, `results-${r.task}.svg`);
  const svg = barChart({
    id: `results-${r.task}`,
    title: `${r.task}: students with ${h.heads} heads (teacher 8 heads: ${fmt(h.teacher, h.scale)})`,
    desc: `Mean ${h.metric} over seeds per distillation variant, with one standard deviation.`,
    xLabel: 'distillation objective',
    yLabel: `${h.metric}${h.scale === 100 ? ' (%)' : ''}`,
    bars: h.variants.map((v) => ({ label: v.name, value: v.mean * h.scale, err: v.std * h.scale })),
    note: 'bars: mean over seeds; error bars: ±1 sample std',
  });
  writeFileSync(file, svg);
  return file;
}

/** The README's results block: one row per task (smallest head count), and the plots. */
function readmeBlock(results: readonly TaskResult[], command: string): string {
  const names = Object.keys(VARIANTS);
  const rows = results
    .filter((r) => r.headline)
    .map((r) => {
      const h = r.headline!;
      const cell = (n: string) => {
        const v = h.variants.find((x) => x.name === n);
        return v ? `${fmt(v.mean, h.scale)} ± ${fmt(v.std, h.scale)}` : '–';
      };
      return `| ${r.task} (${h.metric}${h.scale === 100 ? ', %' : ''}) | ${fmt(h.teacher, h.scale)} | ${names.map(cell).join(' | ')} |`;
    });
  const verdicts = results
    .filter((r) => r.headline)
    .map((r) => {
      const h = r.headline!;
      const amad = h.variants.find((v) => v.name === 'amad-kl');
      if (!amad) return `${r.task}: no AMAD kl result.`;
      const baselines = h.variants.filter((v) => !v.name.startsWith('amad-'));
      const beat = baselines.filter((v) => amad.mean > v.mean).map((v) => v.name);
      const lost = baselines.filter((v) => amad.mean <= v.mean).map((v) => v.name);
      return `${r.task}: AMAD kl's mean is above ${beat.join(', ') || 'no baseline'}${lost.length ? ` and not above ${lost.join(', ')}` : ''}.`;
    });
  return [
    '## Results',
    '',
    `In this run — ${verdicts.join(' ')} Significance over seeds (paired t-tests) is in RESULTS.md; few differences among the attention-distillation variants are significant.`,
    '',
    `Students with ${results[0]?.headline?.heads ?? 2} heads distilled from an 8-head teacher on the synthetic worlds; mean ± std over seeds, from \`${command}\` ` +
      '(details, paired tests, speed-ups and where AMAD did not win: [docs/RESULTS.md](docs/RESULTS.md)).',
    '',
    `| task | teacher | ${names.join(' | ')} |`,
    `|---|---:|${names.map(() => '---:').join('|')}|`,
    ...rows,
    '',
    ...results.filter((r) => r.headline).map((r) => `![${r.task} results](docs/results-${r.task}.svg)`),
    '',
  ].join('\n');
}

function commitOf(): string {
  try {
    const sha = execSync('git rev-parse --short HEAD', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    const dirty = execSync('git status --porcelain --untracked-files=no', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim() ? ' (with uncommitted changes)' : '';
    return sha + dirty;
  } catch {
    return 'unknown';
  }
}

export async function run(argv: readonly string[]): Promise<void> {
  const args = parseArgs(argv);
  mkdirSync(path.join(args.root, 'specs'), { recursive: true });
  const results: TaskResult[] = [];
  for (const task of args.tasks) {
    const spec = experimentSpec(task, { quick: args.quick });
    const file = path.join(args.root, 'specs', `${spec.runId}.json`);
    writeFileSync(file, JSON.stringify(spec, null, 2));
    const t0 = Date.now();
    const status = await runCommand({ spec: file, resume: true, root: args.root }, defaultDeps());
    results.push(await summariseTask(task, args.quick, args.root, status, (Date.now() - t0) / 60000));
  }
  const cpus = os.cpus();
  const header = [
    '# Results: AMAD vs. the baselines, students with fewer heads',
    '',
    `Generated by \`npm run experiments${argv.length ? ' -- ' + argv.join(' ') : ''}\` at commit ${commitOf()} on ${new Date().toISOString().slice(0, 10)}, ` +
      `${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, TensorFlow.js backend ${process.env.AMAD_BACKEND ?? 'auto'}. ` +
      `Total ${results.reduce((m, r) => m + r.minutes, 0).toFixed(1)} min of run time (from each run's stage markers; runs already complete under --root are reused, not retrained, when this file is regenerated).`,
    '',
    'Every variant trains the same student (same width, depth, heads, data, steps and seeds) from the same teacher; only the distillation objective differs ' +
      '(bench/experiments-spec.ts). Δ is the mean over seeds of (AMAD kl − variant) on the same seed; p is the two-sided paired t-test over seeds. ' +
      'With 3 seeds, only large, consistent differences reach p < 0.05.',
    '',
  ];
  mkdirSync(path.dirname(args.out), { recursive: true });
  const plots = results.map((r) => writePlot(r, path.dirname(args.out))).filter(Boolean);
  writeFileSync(args.out, [...header, ...results.map((r) => r.markdown)].join('\n'));
  const command = `npm run experiments${argv.length ? ' -- ' + argv.join(' ') : ''}`;
  const readme = readFileSync('README.md', 'utf8');
  const start = readme.indexOf('<!-- RESULTS:START -->');
  const end = readme.indexOf('<!-- RESULTS:END -->');
  if (start >= 0 && end > start) {
    writeFileSync('README.md', readme.slice(0, start) + '<!-- RESULTS:START -->\n' + readmeBlock(results, command) + readme.slice(end));
  }
  process.stdout.write(`wrote ${args.out}, ${plots.length} plot(s) and the README results block\n`);
  if (results.some((r) => r.status !== 0)) process.exitCode = 1;
}

if (require.main === module) {
  run(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`error: ${(e as Error).message}\n`);
    process.exitCode = 1;
  });
}
