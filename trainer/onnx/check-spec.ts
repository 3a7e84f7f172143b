/**
 * The check of a spec that names an ONNX teacher: the teacher against its sidecar
 * (teacher-check.ts), then the run against the teacher — the task, the cache, the variants, and
 * every student's mapped attention maps against the teacher maps they learn from (same query and
 * key counts). Every problem is reported at once, naming the field or output and the fix.
 *
 * Where it runs: `amad validate`, `amad plan` and the Validate stage — before any data is
 * prepared. Where ONNX Runtime is not available (a Validate Lambda bundled without it), Validate
 * checks the spec, the sidecar, the tokenizer and the layer map, and the model checks run at the
 * start of every CacheTeacher shard (`checkLoadedTeacherForSpec`) — still before any training.
 */
import { hasOnnxTeacher, type JobSpec } from '../../contract/spec';
import { taskOf } from '../data/source';
import type { Tokenizer } from '../data/tokenizer';
import { resolveLayerMap } from '../distill/layer-map';
import { attentionMapShape } from '../jobs/map-shape';
import { parseModelConfig, type ModelConfig } from '../model/config';
import { attentionOutput, declaredLayers, OnnxTeacher, OnnxTeacherError, readSidecar, readTeacherTokenizer } from './onnx-teacher';
import type { OnnxSidecar } from '../../contract/onnx-model';
import { loadOnnxRuntime } from './runtime';
import { checkOnnxTeacher, type TeacherCheckSummary } from './teacher-check';

export interface SpecTeacherCheck {
  /** The model checks' result; null when they were deferred to CacheTeacher (no ONNX Runtime here). */
  readonly summary: TeacherCheckSummary | null;
  /** Why the model checks were deferred. */
  readonly deferred?: string;
}

const refuse = (what: string, problems: readonly string[]) => new OnnxTeacherError(`${what}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);

/** Checks the spec's ONNX teacher and how the students fit it; undefined for other teachers. @throws OnnxTeacherError */
export async function checkOnnxTeacherOfSpec(spec: JobSpec): Promise<SpecTeacherCheck | undefined> {
  if (!hasOnnxTeacher(spec)) return undefined;
  const problems = runProblems(spec);
  if (problems.length) throw refuse("the spec's ONNX teacher cannot run as configured", problems);
  const rt = loadOnnxRuntime();
  if (!rt.available) {
    // Sidecar, tokenizer and layer map still checked here; shapes need the model.
    const { sidecar } = await readSidecar(spec.teacher.sidecar);
    const tokenizer = await readTeacherTokenizer(sidecar, spec.teacher.sidecar);
    const fit = studentProblems(spec, sidecar, tokenizer, null);
    if (fit.length) throw refuse(`the students do not fit the ONNX teacher ${spec.teacher.onnx}`, fit);
    return { summary: null, deferred: `ONNX Runtime is not available here (${rt.reason}): the model checks run at the start of every CacheTeacher shard` };
  }
  const teacher = await OnnxTeacher.load({ onnx: spec.teacher.onnx, sidecar: spec.teacher.sidecar });
  try {
    return { summary: await checkLoadedTeacherForSpec(spec, teacher) };
  } finally {
    await teacher.release();
  }
}

/** The model checks of a loaded ONNX teacher and the students' fit. @throws OnnxTeacherError */
export async function checkLoadedTeacherForSpec(spec: JobSpec & { teacher: { sidecar: string } }, teacher: OnnxTeacher): Promise<TeacherCheckSummary> {
  const tokenizer = await readTeacherTokenizer(teacher.sidecar, spec.teacher.sidecar);
  const summary = await checkOnnxTeacher(teacher, tokenizer);
  const fit = studentProblems(spec, teacher.sidecar, tokenizer, summary);
  if (fit.length) throw refuse(`the students do not fit the ONNX teacher ${teacher.ref.onnx}`, fit);
  return summary;
}

/** What an ONNX teacher cannot do in this run. */
function runProblems(spec: JobSpec): string[] {
  const problems: string[] = [];
  const task = taskOf(spec.data);
  if (task !== 'vqa') problems.push(`the data's task is ${task}: ONNX teachers are supported for VQA only so far; use a tfjs teacher (teacher.checkpoint or teacher.model) for ${task}`);
  if (!spec.cache.enabled) problems.push('cache.enabled is false: a teacher given as ONNX teaches through the teacher cache only (the cache stage runs it on ONNX Runtime); set cache.enabled to true');
  spec.students.forEach((s, i) => {
    if (s.distill.variant === 'relation') problems.push(`students.${i}.distill.variant "relation" needs the teacher's queries/keys/values, which an ONNX teacher does not export: pick another variant`);
  });
  return problems;
}

/** Each student's layer map against the declared layers and, given the model's shapes, its maps against the teacher's. */
function studentProblems(spec: JobSpec, sc: OnnxSidecar, tokenizer: Tokenizer, summary: TeacherCheckSummary | null): string[] {
  const problems: string[] = [];
  const layers = { declaredLayers: declaredLayers(sc) };
  spec.students.forEach((s, i) => {
    if (s.distill.variant === 'none') return;
    let student: ModelConfig;
    try {
      // The data-derived sizes the run's data will have: prepared for the teacher.
      student = parseModelConfig({ ...s.model, imageSize: sc.image.size, maxTextLength: sc.text.maxLength, vocabSize: tokenizer.vocabSize, numAnswers: sc.answers?.length ?? 0 }, `students.${i}.model`);
    } catch (e) {
      problems.push((e as Error).message);
      return;
    }
    let pairs;
    try {
      pairs = resolveLayerMap(layers, student, s.distill.layerMap ?? 'uniform');
    } catch (e) {
      problems.push(`students.${i}.distill.${(e as Error).message}`);
      return;
    }
    if (!summary) return;
    for (const p of pairs) {
      const out = attentionOutput(sc, p.kind, p.teacherLayer).output;
      const [, Qt, Kt] = summary.maps[out]!;
      const [Qs, Ks] = attentionMapShape(student, p.kind);
      if (Qt !== Qs || Kt !== Ks) {
        problems.push(
          `students.${i} (${s.name}): its ${p.kind} layer ${p.studentLayer} maps are ${Qs}×${Ks} but the teacher output "${out}" it learns from is ${Qt}×${Kt}: ` +
            `give the student the teacher's token layout (single-stream: (imageSize / patchSize)² patches then ${sc.text.maxLength} text tokens; imageSize is ${sc.image.size}), or map other layers with distill.layerMap`,
        );
      }
    }
  });
  return problems;
}
