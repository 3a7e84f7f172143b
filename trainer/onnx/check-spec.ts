/**
 * The Validate stage's check of a spec that names an ONNX teacher (and `amad validate`'s): the
 * teacher against its sidecar (teacher-check.ts), then the run against the teacher — the task,
 * the cache, the variants, and every student's mapped attention maps against the teacher maps
 * they learn from (same query and key counts). Runs before any data is prepared or any model
 * trained; every problem is reported at once, naming the field or output and the fix.
 */
import { hasOnnxTeacher, type JobSpec } from '../../contract/spec';
import { taskOf } from '../data/source';
import { resolveLayerMap } from '../distill/layer-map';
import { attentionMapShape } from '../jobs/map-shape';
import { parseModelConfig, type ModelConfig } from '../model/config';
import { attentionOutput, declaredLayers, OnnxTeacher, OnnxTeacherError, readTeacherTokenizer } from './onnx-teacher';
import { checkOnnxTeacher, type TeacherCheckSummary } from './teacher-check';

/** Checks the spec's ONNX teacher and how the students fit it; a no-op for other teachers. @throws OnnxTeacherError */
export async function checkOnnxTeacherOfSpec(spec: JobSpec): Promise<TeacherCheckSummary | undefined> {
  if (!hasOnnxTeacher(spec)) return undefined;
  const problems: string[] = [];
  const task = taskOf(spec.data);
  if (task !== 'vqa') problems.push(`the data's task is ${task}: ONNX teachers are supported for VQA only so far; use a tfjs teacher (teacher.checkpoint or teacher.model) for ${task}`);
  if (!spec.cache.enabled) problems.push('cache.enabled is false: a teacher given as ONNX teaches through the teacher cache only (the cache stage runs it on ONNX Runtime); set cache.enabled to true');
  spec.students.forEach((s, i) => {
    if (s.distill.variant === 'relation') problems.push(`students.${i}.distill.variant "relation" needs the teacher's queries/keys/values, which an ONNX teacher does not export: pick another variant`);
  });
  if (problems.length) throw new OnnxTeacherError(`the spec's ONNX teacher cannot run as configured:\n${problems.map((p) => `  - ${p}`).join('\n')}`);

  const teacher = await OnnxTeacher.load({ onnx: spec.teacher.onnx, sidecar: spec.teacher.sidecar });
  try {
    const sc = teacher.sidecar;
    const tokenizer = await readTeacherTokenizer(sc, spec.teacher.sidecar);
    const summary = await checkOnnxTeacher(teacher, tokenizer);
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
    if (problems.length) throw new OnnxTeacherError(`the students do not fit the ONNX teacher ${teacher.ref.onnx}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    return summary;
  } finally {
    await teacher.release();
  }
}
