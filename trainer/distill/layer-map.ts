/**
 * Which student attention layer learns from which teacher layer (METHOD.md "Layer mapping").
 * Each attention kind is mapped separately, because teacher and student may differ in depth
 * per stack:
 * - `'uniform'` (default): student layer j ↔ teacher layer round(j·(Lt−1)/(Ls−1)), and the last
 *   teacher layer when Ls = 1; `round` is half-up (Math.round), e.g. Lt = 6, Ls = 3 → 0, 3, 5;
 * - `'last'`: only the last layers;  `'none'`: not mapped;
 * - an explicit `[student, teacher][]` list.
 * The teacher is a model config (every layer of each stack available) or, for a teacher given as
 * ONNX, the layers its sidecar declares (`TeacherLayerSet`): then `uniform` spreads over the
 * declared layers in order (the same as over depth when all are declared), `last` takes the last
 * declared one, and an explicit pair must name a declared layer.
 */
import { z } from 'zod';
// From config/types only (no tfjs): the job-spec validation imports this module.
import { attentionLayerCounts, type ModelConfig } from '../model/config';
import type { AttentionKind } from '../model/types';

/**
 * The model's attention kinds (trainer/model ATTENTION_KINDS) as a literal tuple for z.enum,
 * in the order pairs are emitted. The two type checks below fail to compile if the lists drift.
 */
export const ATTENTION_KIND_ENUM = ['visionSelf', 'fusionSelf', 'crossImage', 'decoderSelf', 'decoderCross'] as const satisfies readonly AttentionKind[];
type MissingKind = Exclude<AttentionKind, (typeof ATTENTION_KIND_ENUM)[number]>;
const everyKindListed: MissingKind extends never ? true : false = true;
void everyKindListed;
const ATTENTION_KINDS = ATTENTION_KIND_ENUM;

const layerIndex = z.number().int('a layer index must be an integer').nonnegative('a layer index must be ≥ 0');
export const LayerMapStrategySchema = z.enum(['uniform', 'last', 'none']);
/** One kind: a strategy or explicit `[studentLayer, teacherLayer]` pairs (0-based). */
export const KindLayerMapSchema = z.union([LayerMapStrategySchema, z.array(z.tuple([layerIndex, layerIndex]))]);

/**
 * The layer map: one strategy for every kind, or per kind (absent kinds are `'uniform'`).
 * @default 'uniform'
 */
export const LayerMapSchema = z.union([
  LayerMapStrategySchema,
  z.strictObject(Object.fromEntries(ATTENTION_KINDS.map((k) => [k, KindLayerMapSchema.optional()])) as Record<AttentionKind, z.ZodOptional<typeof KindLayerMapSchema>>),
]);
export type LayerMapStrategy = z.infer<typeof LayerMapStrategySchema>;
export type KindLayerMap = z.infer<typeof KindLayerMapSchema>;
export type LayerMapSpec = z.infer<typeof LayerMapSchema>;

export const DEFAULT_LAYER_MAP: LayerMapStrategy = 'uniform';

/** One distilled module pair. */
export interface MappedPair {
  readonly kind: AttentionKind;
  readonly studentLayer: number;
  readonly teacherLayer: number;
}

/** The attention layers a teacher exposes per kind (its own 0-based layer numbers, ascending). */
export interface TeacherLayerSet {
  readonly declaredLayers: Readonly<Record<AttentionKind, readonly number[]>>;
}

/** A teacher as the layer map sees it: a model config (all layers) or the layers it declares. */
export type TeacherLayers = ModelConfig | TeacherLayerSet;

function declaredOf(teacher: ModelConfig | TeacherLayerSet): Record<AttentionKind, readonly number[]> {
  if ('declaredLayers' in teacher) return { ...teacher.declaredLayers };
  const counts = attentionLayerCounts(teacher);
  return Object.fromEntries(ATTENTION_KINDS.map((k) => [k, Array.from({ length: counts[k] }, (_, i) => i)])) as Record<AttentionKind, number[]>;
}

/** Thrown when a layer map cannot be applied to the two models; the message names kind, index and fix. */
export class LayerMapError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LayerMapError';
  }
}

/**
 * Resolves the spec into module pairs, in kind order (visionSelf, fusionSelf, crossImage,
 * decoderSelf, decoderCross), student layers ascending within a kind (explicit lists keep
 * their order). A kind that only one model has is skipped when it was left to a strategy
 * (default or one global string), and is an error when the spec names it per kind.
 * @throws LayerMapError (or a zod error for a malformed spec).
 */
export function resolveLayerMap(teacher: ModelConfig | TeacherLayerSet, student: ModelConfig, spec: LayerMapSpec = DEFAULT_LAYER_MAP): MappedPair[] {
  const parsed = LayerMapSchema.safeParse(spec);
  if (!parsed.success) {
    const problems = parsed.error.issues.flatMap((i) => describeIssue(i, []));
    throw new LayerMapError(`invalid layerMap: ${problems.join('; ')}`);
  }
  const teacherDeclared = declaredOf(teacher);
  const studentCounts = attentionLayerCounts(student);
  const pairs: MappedPair[] = [];
  for (const kind of ATTENTION_KINDS) {
    const explicit = typeof parsed.data === 'object' && parsed.data[kind] !== undefined;
    const kindSpec: KindLayerMap = typeof parsed.data === 'string' ? parsed.data : (parsed.data[kind] ?? DEFAULT_LAYER_MAP);
    if (kindSpec === 'none') continue;
    const declared = teacherDeclared[kind];
    const Lt = declared.length;
    const Ls = studentCounts[kind];
    if (Lt === 0 || Ls === 0) {
      if (!explicit || (Lt === 0 && Ls === 0 && Array.isArray(kindSpec) && kindSpec.length === 0)) continue;
      throw missingKindError(kind, teacher, student, Lt, Ls);
    }
    pairs.push(...kindPairs(kind, kindSpec, declared, Ls, !('declaredLayers' in teacher)));
  }
  return pairs;
}

/**
 * `path: message` lines for a zod issue. A union's own message ("Invalid input") says nothing,
 * so it descends into the one branch that matched the input's type (string vs list vs object).
 */
function describeIssue(issue: z.core.$ZodIssue, base: PropertyKey[]): string[] {
  const path = [...base, ...issue.path];
  if (issue.code === 'invalid_union') {
    const typeMatched = issue.errors.filter((branch) => !branch.every((b) => (b.code === 'invalid_type' || b.code === 'invalid_value') && b.path.length === 0));
    if (typeMatched.length === 1) return typeMatched[0].flatMap((i) => describeIssue(i, path));
    return [`${path.join('.') || '(root)'}: must be "uniform", "last", "none", [[studentLayer, teacherLayer], …] or an object of those per attention kind (${ATTENTION_KINDS.join(', ')})`];
  }
  return [`${path.map(String).join('.') || '(root)'}: ${issue.message}`];
}

/** `declared`: the teacher's available layers of this kind, ascending; `whole`: they are all its layers 0..Lt−1. */
function kindPairs(kind: AttentionKind, spec: KindLayerMap, declared: readonly number[], Ls: number, whole: boolean): MappedPair[] {
  const Lt = declared.length;
  if (spec === 'last') return [{ kind, studentLayer: Ls - 1, teacherLayer: declared[Lt - 1]! }];
  if (spec === 'uniform') {
    return Array.from({ length: Ls }, (_, j) => ({
      kind,
      studentLayer: j,
      teacherLayer: declared[Ls === 1 ? Lt - 1 : Math.round((j * (Lt - 1)) / (Ls - 1))]!,
    }));
  }
  if (spec === 'none') return [];
  return spec.map(([studentLayer, teacherLayer], i) => {
    if (studentLayer >= Ls) {
      throw new LayerMapError(
        `layerMap.${kind}[${i}]: student layer ${studentLayer} is out of range; the student has ${Ls} ${kind} layer(s) (0..${Ls - 1})`,
      );
    }
    if (whole && teacherLayer >= Lt) {
      throw new LayerMapError(
        `layerMap.${kind}[${i}]: teacher layer ${teacherLayer} is out of range; the teacher has ${Lt} ${kind} layer(s) (0..${Lt - 1})`,
      );
    }
    if (!whole && !declared.includes(teacherLayer)) {
      throw new LayerMapError(
        `layerMap.${kind}[${i}]: teacher layer ${teacherLayer} is not among the teacher's declared ${kind} outputs (its sidecar declares layer(s) ${declared.join(', ')}): pick one of those or export that layer's attention`,
      );
    }
    return { kind, studentLayer, teacherLayer };
  });
}

function missingKindError(kind: AttentionKind, teacher: ModelConfig | TeacherLayerSet, student: ModelConfig, Lt: number, Ls: number): LayerMapError {
  if (kind === 'crossImage' && !('declaredLayers' in teacher) && teacher.fusion !== student.fusion) {
    return new LayerMapError(
      `layerMap.crossImage: the teacher is ${teacher.fusion} and the student is ${student.fusion}; text→image cross-attention ` +
        `exists only in two-stream models. Set layerMap.crossImage to "none" or give both models the same fusion style`,
    );
  }
  const missing = Lt === 0 ? 'teacher' : 'student';
  return new LayerMapError(
    `layerMap.${kind}: the ${missing} has no ${kind} attention layers (teacher ${Lt}${'declaredLayers' in teacher ? ' declared' : ''}, student ${Ls}) but the map names this kind; ` +
      `set layerMap.${kind} to "none" or remove it`,
  );
}
