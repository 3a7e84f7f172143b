/**
 * `npm run experiments [-- --quick] [--tasks vqa,captioning,translation] [--root <dir>] [--out <file>]`
 *
 * Runs the paper's comparison (bench/experiments-spec.ts) through the local pipeline — the same
 * state machine as `amad run` — one run per task in --tasks, then writes the results file from
 * the runs' evaluation files: per task and student head count, mean ± std over seeds of the task
 * metric for every variant, the teacher, the speed-up, paired comparisons with AMAD, the exact
 * command, commit, machine and date. Completed stages are reused (the runs resume), so an
 * interrupted experiment continues where it stopped, and tasks run earlier under the same --root
 * are summarised too (one task at a time fills the same file).
 *
 * This is the survey at the paper's τ = 1 (every objective, 3 seeds); the powered comparison
 * with τ chosen on validation is the study (bench/study.ts → docs/RESULTS.md). The full survey
 * writes docs/SURVEY.md, docs/survey-<task>.svg, a copy of each task's HTML report in
 * docs/reports/ and the README's survey block; `--quick` writes docs/SURVEY-quick.md and
 * docs/survey-quick-<task>.svg and leaves the README alone (it checks that the pipeline learns;
 * it is not a result we claim).
 */
import { copyFileSync, mkdirSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
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
import { meanInterval } from '../trainer/eval/stats/intervals';
import { barChart } from '../trainer/report/svg';
import { EXPERIMENT_TASKS, experimentBudget, experimentSpec, VARIANTS, type ExperimentTask } from './experiments-spec';
import { commitOf } from './git-commit';
import { writeMarkedBlock } from './marked-block';

interface Args {
  quick: boolean;
  tasks: ExperimentTask[];
  root: string;
  out: string;
  /** Whether to rewrite the README's survey block (the full experiment only). */
  readme: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const a: Omit<Args, 'out' | 'readme'> & { out?: string } = { quick: false, tasks: [...EXPERIMENT_TASKS], root: 'runs-experiments' };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--quick') a.quick = true;
    else if (flag === '--tasks') a.tasks = (argv[++i] ?? '').split(',').filter(Boolean) as ExperimentTask[];
    else if (flag === '--root') a.root = argv[++i];
    else if (flag === '--out') a.out = argv[++i];
    else throw new Error(`unknown argument ${flag} (use --quick, --tasks vqa,captioning,translation, --root <dir>, --out <file>)`);
  }
  for (const t of a.tasks) if (!EXPERIMENT_TASKS.includes(t)) throw new Error(`--tasks: unknown task "${t}" (${EXPERIMENT_TASKS.join(', ')})`);
  return { ...a, out: a.out ?? (a.quick ? 'docs/SURVEY-quick.md' : 'docs/SURVEY.md'), readme: !a.quick };
}

async function readEval(runUri: string, modelId: string): Promise<EvalResult | undefined> {
  const file = fileURLToPath(runLayout(runUri).evalFile(modelId));
  if (!existsSync(file)) return undefined;
  return EvalResultSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
}

const fmt = (x: number, scale: number) => (x * scale).toFixed(scale === 100 ? 1 : 3);
/** A p-value as printed everywhere: three decimals, "< 0.001" below that, "–" when undefined (no variance). */
const fmtP = (p: number) => (!Number.isFinite(p) ? '–' : p < 0.001 ? '< 0.001' : p.toFixed(3));

interface TaskResult {
  readonly task: ExperimentTask;
  /** Exit status of this invocation's run of the task; undefined when the task was only summarised. */
  readonly status?: number;
  readonly minutes: number;
  readonly markdown: string;
  /** Metric, teacher value and per-variant summaries per student head count, fewest heads first (README table, plot). */
  readonly headlines: readonly Headline[];
}

interface Headline {
  readonly metric: string;
  readonly scale: number;
  readonly heads: number;
  readonly teacher: number;
  readonly variants: readonly VariantSummary[];
  /** Median over the students of teacher / student p50 latency at batch 32 (they share one architecture). */
  readonly speedup?: number;
}

interface VariantSummary {
  readonly name: string;
  readonly mean: number;
  readonly std: number;
  readonly n: number;
  /** Paired over the seeds both have: mean of (AMAD kl − this variant) and its two-sided p. */
  readonly vsAmad?: { meanDiff: number; p: number; n: number; lo: number; hi: number };
  /** The value of each seed, in seed order. */
  readonly perSeed: readonly { seed: number; value: number }[];
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

/**
 * One task's section of the results file. `reportsDir`: copy the run's HTML report there (the
 * full experiment's reports are committed beside SURVEY.md so that its links work without
 * re-running); without it the section names the report's path under --root.
 */
async function summariseTask(
  task: ExperimentTask,
  quick: boolean,
  root: string,
  status: number | undefined,
  invocationMinutes: number,
  reportsDir: string | undefined,
): Promise<TaskResult> {
  const spec = experimentSpec(task, { quick });
  const runUri = runUriFor(toUri(root), spec.runId!);
  const minutes = await runMinutes(runUri, invocationMinutes);
  const teacher = await readEval(runUri, TEACHER_MODEL_ID);
  const lines: string[] = [`## ${task}${quick ? ' (quick)' : ''}`, ''];
  if (!teacher) {
    lines.push(
      status === undefined
        ? `Not finished yet: \`npm run experiments -- ${quick ? '--quick ' : ''}--tasks ${task}\` runs (or resumes) it.`
        : `No teacher evaluation: the run did not finish (exit status ${status}). See ${path.join(root, 'runs', spec.runId!)}/failure.json.`,
      '',
    );
    return { task, status, minutes, markdown: lines.join('\n'), headlines: [] };
  }
  const metric = teacher.primaryMetric;
  const scale = metric === 'ciderD' || metric === 'cider' ? 1 : 100;
  const unit = scale === 100 ? ' (%)' : '';
  const teacherLatency = teacher.cost.latency.batch32.p50;
  lines.push(
    `Metric: **${metric}**${unit} on the test split (${teacher.count} examples), mean ± sample std over seeds. ` +
      `Teacher: ${fmt(teacher.metrics[metric], scale)} (8 heads, ${(teacher.cost.params / 1e3).toFixed(0)} k params, ${teacherLatency.toFixed(1)} ms per batch of 32).`,
    '',
  );
  const headsList = [...new Set(spec.students.map((s) => Number(s.name.match(/-h(\d+)$/)![1])))].sort((a, b) => a - b);
  const losses: string[] = [];
  const headlines: Headline[] = [];
  for (const h of headsList) {
    lines.push(`### Students with ${h} heads`, '', `| variant | ${metric}${unit} | n | Δ vs AMAD kl (paired) | p (two-sided) | 95% interval of Δ |`, '|---|---:|---:|---:|---:|---|');
    const perVariant = new Map<string, { seeds: number[]; values: number[] }>();
    // Every variant of a head count is the same architecture: its speed-up is one figure, taken over all of them.
    const speedups: number[] = [];
    let params = 0;
    for (const name of Object.keys(VARIANTS)) {
      const student = spec.students.find((s) => s.name === `${name}-h${h}`)!;
      const entry = { seeds: [] as number[], values: [] as number[] };
      for (const seed of student.seeds ?? [0]) {
        const e = await readEval(runUri, studentModelId(student.name, seed));
        if (!e) continue;
        entry.seeds.push(seed);
        entry.values.push(e.metrics[metric]);
        speedups.push(teacherLatency / e.cost.latency.batch32.p50);
        params = e.cost.params;
      }
      perVariant.set(name, entry);
    }
    const amad = perVariant.get('amad-kl')!;
    const variants: VariantSummary[] = [];
    for (const [name, v] of perVariant) {
      if (v.values.length === 0) {
        lines.push(`| ${name} | failed or missing | 0 | | |`);
        continue;
      }
      const s = summarizeSeeds(v.values);
      const shared = name === 'amad-kl' ? [] : v.seeds.filter((seed) => amad.seeds.includes(seed));
      let vsAmad: VariantSummary['vsAmad'];
      if (shared.length >= 2) {
        const c = pairedComparison(
          shared.map((seed) => amad.values[amad.seeds.indexOf(seed)]),
          shared.map((seed) => v.values[v.seeds.indexOf(seed)]),
        );
        const ci = meanInterval(c.meanDiff, c.std, c.n);
        vsAmad = { meanDiff: c.meanDiff, p: c.p, n: shared.length, lo: ci.lo, hi: ci.hi };
      }
      variants.push({ name, ...s, vsAmad, perSeed: v.seeds.map((seed, i) => ({ seed, value: v.values[i]! })) });
      const delta = vsAmad ? `${vsAmad.meanDiff >= 0 ? '+' : ''}${fmt(vsAmad.meanDiff, scale)}` : '';
      const p = vsAmad ? fmtP(vsAmad.p) : '';
      // Baselines only: the other AMAD variants are compared in the table, not "beaten".
      if (vsAmad && !name.startsWith('amad-')) {
        if (vsAmad.meanDiff <= 0) losses.push(`${h} heads: AMAD kl did **not** beat ${name} (Δ ${delta}, p ${p}).`);
        else if (!(vsAmad.p < 0.05)) losses.push(`${h} heads: AMAD kl's lead over ${name} (Δ ${delta}) is not significant (p ${p}, n = ${vsAmad.n}).`);
      }
      const interval = vsAmad && Number.isFinite(vsAmad.lo) ? `[${fmt(vsAmad.lo, scale)}, ${fmt(vsAmad.hi, scale)}]` : '';
      lines.push(`| ${name} | ${fmt(s.mean, scale)} ± ${fmt(s.std, scale)} | ${s.n} | ${delta} | ${p} | ${interval} |`);
    }
    // Every seed's value, so that any mean, std or test above can be recomputed by hand.
    const seedsShown = [...new Set(variants.flatMap((v) => v.perSeed.map((x) => x.seed)))].sort((a, b) => a - b);
    if (seedsShown.length) {
      lines.push('', `Per seed (${metric}${unit}):`, '', `| variant | ${seedsShown.map((x) => `seed ${x}`).join(' | ')} |`, `|---|${seedsShown.map(() => '---:').join('|')}|`);
      for (const v of variants) lines.push(`| ${v.name} | ${seedsShown.map((seed) => { const x = v.perSeed.find((p) => p.seed === seed); return x ? fmt(x.value, scale) : '–'; }).join(' | ')} |`);
    }
    const sorted = [...speedups].sort((a, b) => a - b);
    const median = sorted.length === 0 ? undefined : sorted.length % 2 ? sorted[(sorted.length - 1) / 2]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
    headlines.push({ metric, scale, heads: h, teacher: teacher.metrics[metric], variants, speedup: median });
    lines.push('');
    if (median !== undefined) {
      lines.push(
        `All ${speedups.length} students above share one architecture: ${(params / 1e3).toFixed(0)} k parameters (${((100 * params) / teacher.cost.params).toFixed(0)}% of the teacher's), ` +
          `**${median.toFixed(2)}× faster** than the teacher (median over them of teacher p50 / student p50 latency at batch 32 on ${teacher.cost.latency.runtime ?? teacher.cost.latency.backend}; ` +
          `range ${sorted[0]!.toFixed(2)}–${sorted[sorted.length - 1]!.toFixed(2)}×` +
          // Since the per-architecture pass (trainer/stages/measure-latency.ts) students of one architecture share one measurement;
          // older results were timed per model, some while other evaluation jobs shared the machine.
          `${teacher.cost.latency.architecture ? ' — one serial measurement per architecture after all evaluation, so the range is one value' : (spec.compute?.maxParallelJobs ?? 1) > 1 ? ` — each latency was measured while up to ${(spec.compute?.maxParallelJobs ?? 1) - 1} other evaluation job(s) shared the machine` : ''}).`,
        '',
      );
    }
  }
  lines.push('Where AMAD did not win:', '', ...(losses.length ? losses.map((l) => `- ${l}`) : ['- nowhere in this run (every baseline is below AMAD kl with p < 0.05).']), '');
  const provenance = readProvenance(root, spec.runId!);
  const report = path.join(root, 'runs', spec.runId!, 'report', 'index.html');
  let reportLink = `\`${report}\` (regenerated by the command; \`${root}/\` is not committed)`;
  if (reportsDir && existsSync(report)) {
    mkdirSync(reportsDir, { recursive: true });
    copyFileSync(report, path.join(reportsDir, `${spec.runId}.html`));
    reportLink = `[${path.basename(reportsDir)}/${spec.runId}.html](${path.basename(reportsDir)}/${spec.runId}.html) (a copy of \`${report}\`)`;
  }
  lines.push(
    `Command: \`npm run experiments -- ${quick ? '--quick ' : ''}--tasks ${task}\` (resumes the run under --root, or summarises it when complete). ` +
      `Report: ${reportLink}. ` +
      `Run time: ${minutes.toFixed(1)} min. Trained at commit ${provenance ? `${provenance.commit} (started ${provenance.startedAt})` : 'not recorded'}.`,
    '',
  );
  return { task, status, minutes, markdown: lines.join('\n'), headlines };
}

/** A bar chart per task (smallest head count, error bars = std over seeds), for docs and README. */
function writePlot(r: TaskResult, dir: string, prefix: string): string | undefined {
  const h = r.headlines[0];
  if (!h) return undefined;
  const file = path.join(dir, `${prefix}${r.task}.svg`);
  const svg = barChart({
    id: `${prefix}${r.task}`,
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

/** Per task: each variant's paired difference from AMAD kl, with its 95% interval, for every head count. */
function writeDiffPlot(r: TaskResult, dir: string, prefix: string): string | undefined {
  const bars = r.headlines.flatMap((h) =>
    h.variants.filter((v) => v.vsAmad && Number.isFinite(v.vsAmad.lo)).map((v) => ({ label: `${v.name} (${h.heads}h)`, value: v.vsAmad!.meanDiff * h.scale, err: ((v.vsAmad!.hi - v.vsAmad!.lo) / 2) * h.scale })),
  );
  const h = r.headlines[0];
  if (!h || bars.length === 0) return undefined;
  const file = path.join(dir, `${prefix}${r.task}-diffs.svg`);
  writeFileSync(
    file,
    barChart({
      id: `${prefix}${r.task}-diffs`,
      title: `${r.task}: AMAD kl − each variant, paired over seeds`,
      desc: `Mean paired difference in ${h.metric} between AMAD kl and each variant, per student head count, with its 95% t interval.`,
      xLabel: 'variant (student heads)',
      yLabel: `Δ ${h.metric}${h.scale === 100 ? ' (points)' : ''}`,
      bars,
      note: 'bar: mean of (AMAD kl − variant) over seeds; error bar: 95% t interval; above 0 = AMAD kl better',
    }),
  );
  return file;
}

/** "name (Δ +1.2, p 0.03)" for a verdict sentence. */
function named(v: VariantSummary, scale: number): string {
  const c = v.vsAmad!;
  return `${v.name} (Δ ${c.meanDiff >= 0 ? '+' : ''}${fmt(c.meanDiff, scale)}, p ${fmtP(c.p)})`;
}

/** One sentence per task and head count: which baselines AMAD kl beat, and which of those leads are significant. */
function verdict(task: string, h: Headline): string {
  const baselines = h.variants.filter((v) => !v.name.startsWith('amad-') && v.vsAmad);
  if (!h.variants.some((v) => v.name === 'amad-kl') || baselines.length === 0) return `${task}, ${h.heads} heads: no paired AMAD kl comparison.`;
  const above = baselines.filter((v) => v.vsAmad!.meanDiff > 0);
  const notAbove = baselines.filter((v) => v.vsAmad!.meanDiff <= 0);
  const significant = above.filter((v) => v.vsAmad!.p < 0.05).map((v) => v.name);
  return (
    `${task}, ${h.heads} heads: AMAD kl is above ${above.map((v) => named(v, h.scale)).join(', ') || 'no baseline'}` +
    `${notAbove.length ? `; **not above** ${notAbove.map((v) => named(v, h.scale)).join(', ')}` : ''}` +
    ` — significant (p < 0.05) over ${significant.join(', ') || 'none'}.`
  );
}

/** Per baseline, over every task and head count: how often AMAD kl's mean is above it, significantly above, significantly below. */
function tally(headlines: readonly Headline[]): string | undefined {
  const baselines = Object.keys(VARIANTS).filter((n) => !n.startsWith('amad-'));
  const settings = headlines.filter((h) => h.variants.some((v) => v.name === 'amad-kl'));
  if (settings.length === 0) return undefined;
  const parts = baselines.map((name) => {
    const cmp = settings.map((h) => h.variants.find((v) => v.name === name)?.vsAmad).filter((c) => c !== undefined);
    const above = cmp.filter((c) => c.meanDiff > 0).length;
    const sigAbove = cmp.filter((c) => c.meanDiff > 0 && c.p < 0.05).length;
    const sigBelow = cmp.filter((c) => c.meanDiff < 0 && c.p < 0.05).length;
    return `${name}: above in ${above} of ${cmp.length} (significantly in ${sigAbove}${sigBelow ? `; significantly **below** in ${sigBelow}` : ''})`;
  });
  return `Over the ${settings.length} settings (task × student heads), AMAD kl's mean against each baseline — ${parts.join('; ')}.`;
}

/** The README's survey block: one row per task and student head count, the verdicts, and the plots. */
function readmeBlock(results: readonly TaskResult[], command: string): string {
  const names = Object.keys(VARIANTS);
  const rows = results.flatMap((r) =>
    r.headlines.map((h) => {
      const cell = (n: string) => {
        const v = h.variants.find((x) => x.name === n);
        return v ? `${fmt(v.mean, h.scale)} ± ${fmt(v.std, h.scale)}` : '–';
      };
      const speedup = h.speedup === undefined ? '–' : `${h.speedup.toFixed(1)}×`;
      return `| ${r.task} (${h.metric}${h.scale === 100 ? ', %' : ''}) | ${h.heads} | ${speedup} | ${fmt(h.teacher, h.scale)} | ${names.map(cell).join(' | ')} |`;
    }),
  );
  const verdicts = results.flatMap((r) => r.headlines.map((h) => `- ${verdict(r.task, h)}`));
  const overall = tally(results.flatMap((r) => r.headlines));
  const missing = results.filter((r) => r.headlines.length === 0).map((r) => r.task);
  return [
    '### The survey at the paper\'s τ = 1',
    '',
    `Every objective on students with fewer heads, distilled from an 8-head teacher on the synthetic worlds at the paper's τ = 1; mean ± std over ${experimentBudget({ quick: false }).seeds.length} seeds, from \`${command}\` ` +
      '(Δ = AMAD kl − baseline, paired over seeds; per-seed details, speed-ups and every "AMAD did not win": [docs/SURVEY.md](docs/SURVEY.md)).',
    '',
    `| task | student heads | student speed-up | teacher (8 heads) | ${names.join(' | ')} |`,
    `|---|---:|---:|---:|${names.map(() => '---:').join('|')}|`,
    ...rows,
    '',
    ...(overall ? [overall, ''] : []),
    ...verdicts,
    ...(missing.length ? [`- Not finished yet: ${missing.join(', ')}.`] : []),
    '',
    ...results.filter((r) => r.headlines.length).map((r) => `![${r.task} survey](docs/survey-${r.task}.svg)`),
    '',
  ].join('\n');
}


/** The experiment's size in words, from the same budget the specs are built from. */
function budget(quick: boolean): string {
  const b = experimentBudget({ quick });
  return (
    `${b.train.toLocaleString('en-US')} training examples per task, teacher ${b.teacherSteps} steps, students ${b.studentSteps} steps ` +
    `with ${b.studentHeads.join(' and ')} heads, seeds ${b.seeds.join(', ')}, batch ${b.batchSize}`
  );
}

/**
 * Which code trained a run: written when the runner starts a new run, next to its spec, so that
 * a results file regenerated later from the same runs names the commit that produced them.
 */
interface Provenance {
  readonly commit: string;
  readonly startedAt: string;
}

const provenanceFile = (root: string, runId: string) => path.join(root, 'specs', `${runId}.provenance.json`);

function writeProvenance(root: string, runId: string): void {
  const p: Provenance = { commit: commitOf(), startedAt: new Date().toISOString() };
  writeFileSync(provenanceFile(root, runId), JSON.stringify(p, null, 2) + '\n');
}

function readProvenance(root: string, runId: string): Provenance | undefined {
  const file = provenanceFile(root, runId);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Provenance) : undefined;
}


export async function run(argv: readonly string[]): Promise<void> {
  const args = parseArgs(argv);
  mkdirSync(path.join(args.root, 'specs'), { recursive: true });
  const results: TaskResult[] = [];
  const reportsDir = args.quick ? undefined : path.join(path.dirname(args.out), 'reports');
  for (const task of EXPERIMENT_TASKS) {
    const spec = experimentSpec(task, { quick: args.quick });
    if (!args.tasks.includes(task)) {
      // Not asked for now: summarise what an earlier invocation under the same --root left.
      results.push(await summariseTask(task, args.quick, args.root, undefined, 0, reportsDir));
      continue;
    }
    const file = path.join(args.root, 'specs', `${spec.runId}.json`);
    writeFileSync(file, JSON.stringify(spec, null, 2));
    const runUri = runUriFor(toUri(args.root), spec.runId!);
    // A resumed run keeps the commit it started at; a rerun of a finished run is only a summary.
    if (!(await readStageMarker(runUri, Stage.validate))) writeProvenance(args.root, spec.runId!);
    const t0 = Date.now();
    const status = await runCommand({ spec: file, resume: true, root: args.root }, defaultDeps());
    results.push(await summariseTask(task, args.quick, args.root, status, (Date.now() - t0) / 60000, reportsDir));
  }
  const command = `npm run experiments${argv.length ? ' -- ' + argv.join(' ') : ''}`;
  const cpus = os.cpus();
  const header = [
    `# Survey at the paper's τ = 1${args.quick ? ' (quick check)' : ''}: AMAD vs. the baselines, students with fewer heads`,
    '',
    `Written by \`${command}\` at commit ${commitOf()} on ${new Date().toISOString().slice(0, 10)} (each task below names the commit its runs were trained at), ` +
      `${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, TensorFlow.js backend ${process.env.AMAD_BACKEND ?? 'auto'}. ` +
      `Total ${results.reduce((m, r) => m + r.minutes, 0).toFixed(1)} min of run time (from each run's stage markers; runs already complete under --root are reused, not retrained, when this file is regenerated).`,
    '',
    'Every variant trains the same student (same width, depth, heads, data, steps and seeds) from the same teacher; only the distillation objective differs ' +
      '(bench/experiments-spec.ts). Δ is the mean over seeds of (AMAD kl − variant) on the same seed; p is the two-sided paired t-test over seeds. ' +
      'With 3 seeds, only large, consistent differences reach p < 0.05; the 95% interval of Δ says how large a difference the data still allow. ' +
      '`gt-only` is the student trained on the ground truth alone (α_kd = α_attn = 0: no distillation at all); `logit-kd` adds logit distillation only. ' +
      'The powered study of when AMAD helps, with τ chosen on validation, is [STUDY.md](STUDY.md); its results are [RESULTS.md](RESULTS.md).',
    '',
    `${args.quick ? 'This is the `--quick` check' : 'Budget'}: ${budget(args.quick)}. ` +
      (args.quick
        ? 'It shows that the pipeline learns and the objectives separate; the survey we report is [SURVEY.md](SURVEY.md).'
        : 'The smaller `--quick` check is in [SURVEY-quick.md](SURVEY-quick.md).'),
    '',
  ];
  mkdirSync(path.dirname(args.out), { recursive: true });
  const plots = results.flatMap((r) => [writePlot(r, path.dirname(args.out), args.quick ? 'survey-quick-' : 'survey-'), writeDiffPlot(r, path.dirname(args.out), args.quick ? 'survey-quick-' : 'survey-')]).filter(Boolean);
  writeFileSync(args.out, [...header, ...results.map((r) => r.markdown)].join('\n'));
  let readmeNote = '';
  if (args.readme) {
    // Only a README that has the block (the repository's): never append one to another file.
    if (readFileSync('README.md', 'utf8').includes('<!-- SURVEY:START -->')) {
      writeMarkedBlock('README.md', 'SURVEY', readmeBlock(results, command));
      readmeNote = ' and the README survey block';
    }
  }
  process.stdout.write(`wrote ${args.out}, ${plots.length} plot(s)${readmeNote}\n`);
  if (results.some((r) => r.status !== undefined && r.status !== 0)) process.exitCode = 1;
}

if (require.main === module) {
  run(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`error: ${(e as Error).message}\n`);
    process.exitCode = 1;
  });
}
