/**
 * The job spec: the one document that describes a distillation run (data, teacher, students,
 * teacher cache, evaluation, compute). Every stage reads the normalised copy the Validate stage
 * writes to `runs/<runId>/spec.json`.
 *
 * Versioned (`version: 1`) so that a later format can be told apart and migrated. Every field
 * has a `.describe()` text: the JSON Schema (`schema/job-spec.schema.json`) and the configuration
 * reference (`docs/CONFIG.md`) are generated from this file (`npm run schema`), never written by hand.
 */
import { z } from 'zod';
import { ArchitectureSchema, ConfigError, formatIssues } from '../trainer/model/config';
import { LayerMapSchema as DistillLayerMapSchema } from '../trainer/distill/layer-map';
import { TrainOptionsSchema } from '../trainer/train/options';
import { DataSourceSchema } from '../trainer/data/source';
import { firstBytesHex, jsonErrorPosition } from './parse-json';

/** Current job-spec format version. */
export const JOB_SPEC_VERSION = 1;

/**
 * Run ids name S3 prefixes, Step Functions executions (≤ 80 characters, no `/`) and Batch jobs
 * (letters, digits, `-`, `_`): the intersection is this pattern, kept ≤ 64 so suffixes fit.
 */
export const RUN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
/** Student names become path segments and Batch job-name parts. */
export const STUDENT_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$/;

export const RunIdSchema = z
  .string()
  .regex(RUN_ID_PATTERN, 'runId must be 1–64 characters: letters, digits, "-" or "_", starting with a letter or digit')
  .describe('Identifier of the run: names the `runs/<runId>/` folder, the Step Functions execution and the Batch jobs. Generated when absent; re-using one resumes that run.');

/** A storage URI (`s3://bucket/key`, `file:///abs/path`) or a local path. */
const UriSchema = z.string().min(1, 'must be a non-empty URI or path');

export const TeacherSchema = z
  .union([
    z
      .strictObject({
        checkpoint: UriSchema.describe('URI of an already trained teacher model folder (tfjs model); the TrainTeacher stage is skipped.'),
      })
      .describe('Use an existing teacher'),
    z
      .strictObject({
        onnx: UriSchema.describe('URI of a teacher exported to ONNX from any framework (docs/TEACHERS.md): VQA; its attention maps as named outputs. The TrainTeacher stage is skipped; the cache and the teacher\'s evaluation run it on ONNX Runtime.'),
        sidecar: UriSchema.describe('URI of its "amad-onnx/1" JSON sidecar: input/output names, image size/layout/normalisation, text length, attention outputs (kind, layer, heads), tokenizer file, answer classes. The run\'s data is prepared with the teacher\'s tokenizer, image size, normalisation and answers.'),
      })
      .describe('Use a teacher exported to ONNX'),
    z
      .strictObject({
        model: ArchitectureSchema.describe('Teacher architecture (image size, text lengths, vocabulary and answer count come from the prepared data).'),
        train: TrainOptionsSchema.prefault({}).describe('Teacher training options.'),
      })
      .describe('Train the teacher in this run'),
  ])
  .describe('The teacher: `{ checkpoint }` (a trained model), `{ onnx, sidecar }` (a teacher exported to ONNX from any framework) or `{ model, train }` (trained by the run).');

/** Per-kind layer mapping (METHOD.md "Layer mapping"); the distillation module owns the schema. */
export const LayerMapSchema = DistillLayerMapSchema.describe(
  'How student layers pair with teacher layers: "uniform" (default: spread over depth), "last", "none", explicit [[studentLayer, teacherLayer], …] (0-based), or an object giving one of those per attention kind (visionSelf, fusionSelf, crossImage, decoderSelf, decoderCross).',
);

export const DistillOptionsSchema = z
  .strictObject({
    variant: z
      .enum(['none', 'kl', 'mse', 'token', 'projected', 'one-to-one', 'mean-head', 'relation'])
      .default('kl')
      .describe('Attention term: AMAD variants kl (paper default), mse, token, projected; baselines one-to-one, mean-head, relation (MiniLMv2); none = no attention term.'),
    temperature: z.number().positive('temperature must be > 0').default(1).describe('τ of the alignment softmax over student heads (1 = the paper).'),
    detachWeights: z.boolean().default(false).describe('Stop gradients through the alignment weights a_ij.'),
    alphaGt: z.number().nonnegative().default(1).describe('Weight α_gt of the ground-truth cross-entropy.'),
    alphaKd: z.number().nonnegative().default(1).describe('Weight α_kd of the logit distillation KL.'),
    alphaAttn: z.number().nonnegative().default(1).describe('Weight α_attn of the attention-map term.'),
    tauKd: z.number().positive('tauKd must be > 0').default(1).describe('Temperature τ_kd of the logit distillation.'),
    layerMap: LayerMapSchema.optional(),
    relationHeads: z.number().int().positive().optional().describe('Relation heads R of the MiniLMv2 `relation` baseline (default: the student head count).'),
    teacherHeads: z
      .array(z.number().int().nonnegative())
      .min(1, 'teacherHeads needs at least one teacher head')
      .refine((h) => new Set(h).size === h.length, 'teacherHeads must be distinct')
      .optional()
      .describe('one-to-one only: the teacher head each student head copies (student head k ↔ teacherHeads[k]), e.g. [6, 7]; at most one per student head, each < the teacher\'s heads (default: 0, 1, …).'),
  })
  .superRefine((d, ctx) => {
    if (d.teacherHeads !== undefined && d.variant !== 'one-to-one') {
      ctx.addIssue({ code: 'custom', path: ['teacherHeads'], message: `teacherHeads only applies to variant "one-to-one" (variant is "${d.variant}"): remove it or change the variant` });
    }
    if (d.relationHeads !== undefined && d.variant !== 'relation') {
      ctx.addIssue({ code: 'custom', path: ['relationHeads'], message: `relationHeads only applies to variant "relation" (variant is "${d.variant}"): remove it or change the variant` });
    }
  })
  .describe('Distillation objective of one student (METHOD.md).');

/** Fields of `distill` a student may list candidate values for (CandidatesSchema). */
export const CANDIDATE_FIELDS = ['variant', 'temperature', 'alphaAttn'] as const;
export type CandidateField = (typeof CANDIDATE_FIELDS)[number];
/** The paper's setting per candidate field: the choice when candidates tie on validation. */
export const PAPER_SETTING: Readonly<Record<CandidateField, string | number>> = { variant: 'kl', temperature: 1, alphaAttn: 1 };

const candidateList = <T extends z.ZodType>(item: T, field: string) =>
  z
    .array(item)
    .min(2, `${field}: list at least two candidate values (or set distill.${field} directly)`)
    .refine((v) => new Set(v).size === v.length, `${field}: candidate values must be unique`);

export const CandidatesSchema = z
  .strictObject({
    variant: candidateList(DistillOptionsSchema.shape.variant.unwrap(), 'variant').optional().describe('Candidate attention terms (values of distill.variant).'),
    temperature: candidateList(z.number().positive('temperature must be > 0'), 'temperature').optional().describe('Candidate alignment temperatures τ (values of distill.temperature), e.g. [1, 0.3, 0.1, 0.03].'),
    alphaAttn: candidateList(z.number().nonnegative(), 'alphaAttn').optional().describe('Candidate weights α_attn (values of distill.alphaAttn).'),
  })
  .refine((c) => CANDIDATE_FIELDS.some((f) => c[f] !== undefined), 'candidates: list values for at least one of variant, temperature, alphaAttn')
  .describe(
    'Candidate values of distill fields. The run trains one student per combination (named <name>-c<k>), scores each on the validation split, ' +
      'evaluates only the best on the evaluation split, and the report shows every candidate\'s validation score and the choice. ' +
      "Ties go to the paper's setting (variant kl, temperature 1, alphaAttn 1). The listed values replace the student's own distill values.",
  );

/** Set on a student that `candidates` expanded: which student it is a candidate of, with which values. */
export const CandidateOfSchema = z
  .strictObject({
    student: z.string().regex(STUDENT_NAME_PATTERN).describe('Name of the student entry that listed the candidates.'),
    index: z.number().int().nonnegative().describe('Position of this candidate in the expansion.'),
    values: z
      .strictObject({
        variant: DistillOptionsSchema.shape.variant.unwrap().optional().describe('This candidate\'s distill.variant (when variant was a candidate field).'),
        temperature: z.number().positive().optional().describe('This candidate\'s distill.temperature (when temperature was a candidate field).'),
        alphaAttn: z.number().nonnegative().optional().describe('This candidate\'s distill.alphaAttn (when alphaAttn was a candidate field).'),
      })
      .describe('The candidate values of this student.'),
  })
  .describe('Written by the pipeline when it expands `candidates` (the normalised spec); do not write it yourself.');

export const StudentSchema = z
  .strictObject({
    name: z.string().regex(STUDENT_NAME_PATTERN, 'name must be 1–40 characters: letters, digits, "-" or "_"').describe('Unique student name (a path segment: models/<name>/seed-<n>/).'),
    model: ArchitectureSchema.describe('Student architecture (fewer heads than the teacher, typically); data-derived sizes as for the teacher.'),
    distill: DistillOptionsSchema.prefault({}),
    train: TrainOptionsSchema.prefault({}).describe('Student training options (train.seed is replaced by each of `seeds`).'),
    seeds: z
      .array(z.number().int().nonnegative())
      .min(1, 'seeds needs at least one seed')
      .default([0])
      .refine((s) => new Set(s).size === s.length, 'seeds must be unique')
      .describe('One training job per seed; the report shows the spread over seeds.'),
    candidates: CandidatesSchema.optional(),
    candidateOf: CandidateOfSchema.optional(),
  })
  .superRefine((s, ctx) => {
    if (s.candidates && s.candidateOf) ctx.addIssue({ code: 'custom', path: ['candidateOf'], message: 'a student with candidates cannot itself be a candidate: remove candidateOf (the pipeline writes it)' });
  })
  .describe('One student variant.');

export const CacheSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe('Precompute the teacher attention maps and logits once (CacheTeacher stage) instead of running the teacher in every student step.'),
    dtype: z.enum(['float32', 'float16']).default('float16').describe('Storage type of the cached maps.'),
    shardSize: z.number().int().positive().default(256).describe('Examples per cache shard (one CacheTeacher task per shard).'),
  })
  .describe('Teacher output cache.');

export const EvaluationSchema = z
  .strictObject({
    split: z.enum(['val', 'test']).default('test').describe('Split the final metrics are computed on.'),
    maxExamples: z.number().int().positive().optional().describe('Evaluate at most this many examples (default: the whole split).'),
    latency: z
      .strictObject({
        warmup: z.number().int().nonnegative().default(3).describe('Untimed warm-up calls of each measurement.'),
        runs: z.number().int().positive().default(20).describe('Timed rounds (median reported); each round times every architecture on every runtime once.'),
      })
      .prefault({})
      .describe('Latency: measured once per distinct architecture after all evaluation, on ONNX Runtime and TensorFlow.js, in interleaved rounds.'),
    beamSize: z.number().int().positive().default(1).describe('Beam width for generation (1 = greedy).'),
    lengthPenalty: z.number().nonnegative().default(0).describe('Length penalty exponent of beam search (0 = none).'),
  })
  .describe('Evaluation of teacher and students.');

const placementChoice = (stage: string) =>
  z
    .enum(['auto', 'lambda', 'batch'])
    .default('auto')
    .describe(`Where ${stage} runs: "auto" (the planner: a Lambda when the work fits it with margin, else a Batch job), or pinned to "lambda" or "batch" (\`amad validate\` refuses a pin that cannot fit).`);

export const PlacementPinsSchema = z
  .strictObject({
    prepare: placementChoice('data preparation (chunks of images; Batch = the CPU queue)'),
    cacheTeacher: placementChoice('the teacher cache shards (Batch = the GPU queue)'),
    evaluate: placementChoice('the evaluation shards (Batch = the GPU queue)'),
  })
  .describe('Stage placement (`amad plan <spec>` shows what "auto" chooses and why).');

export const ComputeSchema = z
  .strictObject({
    instanceTypes: z
      .array(z.string().min(1))
      .min(1)
      .default(['g4dn.xlarge'])
      .describe(
        'Refused on AWS if given: the deployer chooses the GPU instance types (CDK context `instanceTypes`, docs/DEPLOY.md) and the placement planner estimates GPU stages with those. Locally only the planner uses this list (`amad plan`, `amad validate`, the Validate stage of a run), estimating with the slowest type.',
      ),
    spot: z
      .boolean()
      .default(true)
      .describe('Not used by the pipeline and refused on AWS if given: the deployer chooses Spot or on-demand (CDK context `spot`, docs/DEPLOY.md).'),
    maxParallelJobs: z.number().int().positive().default(2).describe('Training jobs running at once (Batch jobs on AWS, child processes locally).'),
    jobTimeoutMinutes: z
      .number()
      .int()
      .positive()
      .default(1440)
      .describe(
        "Time limit of one training job attempt; a job that exceeds it fails (not retried: it would exceed it again). On AWS at most the deployer's `maxJobMinutes` (default 2880); when not given, the smaller of 1440 and that cap.",
      ),
    placement: PlacementPinsSchema.prefault({}),
  })
  .describe('Compute resources.');

export const JobSpecSchema = z
  .strictObject({
    $schema: z.string().optional().describe('Path or URL of schema/job-spec.schema.json, for editors (ignored by the pipeline).'),
    version: z.literal(JOB_SPEC_VERSION, { error: `version must be ${JOB_SPEC_VERSION}` }).describe('Format version of the job spec.'),
    runId: RunIdSchema.optional(),
    data: DataSourceSchema.describe('Where the examples come from (synthetic generator or a public dataset layout).'),
    teacher: TeacherSchema,
    students: z
      .array(StudentSchema)
      .min(1, 'students needs at least one student')
      .superRefine(
        (students, ctx) => {
          const seen = new Map<string, number>();
          students.forEach((s, i) => {
            if (typeof s?.name !== 'string') return; // (elements may be invalid: see `when`)
            const first = seen.get(s.name);
            if (first !== undefined) {
              ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate student name "${s.name}" (also students.${first}.name): names must be unique` });
            } else seen.set(s.name, i);
          });
          // Candidate students are named <name>-c<k>: the names must fit and must not collide.
          students.forEach((s, i) => {
            if (typeof s?.name !== 'string' || !s.candidates) return;
            const n = candidateCount(s.candidates);
            const longest = `${s.name}-c${n - 1}`;
            if (!STUDENT_NAME_PATTERN.test(longest)) {
              ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `with ${n} candidates this student's runs are named up to "${longest}", over 40 characters: shorten the name` });
            }
            for (let k = 0; k < n; k++) {
              const other = seen.get(`${s.name}-c${k}`);
              if (other !== undefined) ctx.addIssue({ code: 'custom', path: [other, 'name'], message: `"${s.name}-c${k}" is the name of a candidate of students.${i}: rename one of them` });
            }
          });
        },
        // Also when a student has other problems: the user should see every problem at once.
        { when: (payload) => Array.isArray(payload.value) },
      )
      .describe('Student variants to distil; each runs once per seed.'),
    cache: CacheSchema.prefault({}),
    evaluation: EvaluationSchema.prefault({}),
    compute: ComputeSchema.prefault({}),
  })
  .describe('amad-distill job spec: one distillation run.');

/** Input form (defaults optional). */
export type JobSpecInput = z.input<typeof JobSpecSchema>;
/** Validated form (every default applied). */
export type JobSpec = z.output<typeof JobSpecSchema>;
export type StudentSpec = JobSpec['students'][number];
export type DistillOptions = z.output<typeof DistillOptionsSchema>;
export type Candidates = z.output<typeof CandidatesSchema>;
export type CandidateValues = z.output<typeof CandidateOfSchema>['values'];

/** Number of candidate combinations a `candidates` entry lists (the product of its list lengths). */
export function candidateCount(c: Partial<Record<CandidateField, readonly unknown[]>>): number {
  return CANDIDATE_FIELDS.reduce((n, f) => n * (c[f]?.length ?? 1), 1);
}

/** The candidate combinations in order: variant, then temperature, then alphaAttn vary slowest to fastest. */
export function candidateCombinations(c: Candidates): CandidateValues[] {
  let combos: CandidateValues[] = [{}];
  for (const f of CANDIDATE_FIELDS) {
    const values = c[f] as readonly (string | number)[] | undefined;
    if (!values) continue;
    combos = combos.flatMap((v) => values.map((x) => ({ ...v, [f]: x })));
  }
  return combos;
}

/**
 * Replaces every student that lists `candidates` by one student per combination, named
 * `<name>-c<k>`, with the values applied to its `distill` and `candidateOf` recording where it
 * came from. Idempotent: an expanded spec (the normalised spec.json) has no `candidates` left.
 */
export function expandCandidates(spec: JobSpec): JobSpec {
  if (!spec.students.some((s) => s.candidates)) return spec;
  const students = spec.students.flatMap((s): StudentSpec[] => {
    if (!s.candidates) return [s];
    const { candidates, ...rest } = s;
    return candidateCombinations(candidates).map((values, index) => {
      const distill = { ...rest.distill, ...values };
      // relationHeads / teacherHeads only apply to their baseline (a candidate variant may differ).
      if (distill.variant !== 'relation') delete distill.relationHeads;
      if (distill.variant !== 'one-to-one') delete distill.teacherHeads;
      return { ...rest, name: `${s.name}-c${index}`, distill, candidateOf: { student: s.name, index, values } };
    });
  });
  return { ...spec, students };
}

/** Students that are candidates, grouped by the student entry that listed them (in spec order). */
export function candidateGroups(spec: JobSpec): { student: string; candidates: StudentSpec[] }[] {
  const groups = new Map<string, StudentSpec[]>();
  for (const s of spec.students) {
    if (!s.candidateOf) continue;
    const g = groups.get(s.candidateOf.student) ?? [];
    g.push(s);
    groups.set(s.candidateOf.student, g);
  }
  return [...groups].map(([student, candidates]) => ({ student, candidates }));
}

/** True when the spec names a trained teacher (the TrainTeacher stage is skipped). */
export function hasTeacherCheckpoint(spec: JobSpec): spec is JobSpec & { teacher: { checkpoint: string } } {
  return 'checkpoint' in spec.teacher;
}

/** True when the spec names a teacher exported to ONNX (docs/TEACHERS.md). */
export function hasOnnxTeacher(spec: JobSpec): spec is JobSpec & { teacher: { onnx: string; sidecar: string } } {
  // (Tolerates a partial spec object: some callers hold only the fields they read.)
  return typeof spec.teacher === 'object' && spec.teacher !== null && 'onnx' in spec.teacher;
}

/**
 * Validates a job spec and applies defaults.
 * @throws ConfigError whose message lists every problem with its path (`students.1.distill.variant: ...`).
 */
export function parseJobSpec(input: unknown, what = 'job spec'): JobSpec {
  const r = JobSpecSchema.safeParse(input);
  if (!r.success) {
    const issues = formatIssues(new z.ZodError(resolveUnionIssues(r.error.issues)));
    throw new ConfigError(`invalid ${what}:\n` + issues.map((i) => `  - ${i.path}: ${i.message}`).join('\n'), issues);
  }
  return expandCandidates(r.data);
}

/**
 * zod reports a failed union as one "Invalid input" issue holding every branch's issues. Users
 * meant one branch, so report that branch's issues instead: the branch with the fewest unknown
 * keys (a wrong branch flags the other branch's keys as unknown), then the fewest issues.
 */
export function resolveUnionIssues(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue[] {
  return issues.flatMap((issue) => {
    if (issue.code !== 'invalid_union' || issue.errors.length === 0) return [issue];
    const score = (branch: readonly z.core.$ZodIssue[]) =>
      branch.filter((i) => i.code === 'unrecognized_keys').length * 1000 + branch.length;
    const best = issue.errors.reduce((a, b) => (score(b) < score(a) ? b : a));
    return resolveUnionIssues(best).map((i) => ({ ...i, path: [...issue.path, ...i.path] }));
  });
}

/** Parses JSON text then the spec; a JSON syntax error names the file and its position, never its text. @throws ConfigError */
export function parseJobSpecText(text: string, file = 'job spec'): JobSpec {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    // Never V8's message: it quotes the text (contract/parse-json.ts).
    throw new ConfigError(`invalid ${file}: not JSON${jsonErrorPosition(e, text).where}; ${firstBytesHex(text)}`, [{ path: '(root)', message: 'not JSON' }]);
  }
  return parseJobSpec(raw, file);
}
