/**
 * What an ONNX teacher fixes about the run's data: the PrepareData stage prepares the examples
 * with the teacher's tokenizer, image size, text length, pixel normalisation and answer classes
 * (trainer/data/prepare.ts `PrepareOptions.teacher`), so the teacher reads the inputs it was
 * trained on and its cached logits index the same answer classes as the students' heads.
 */
import { hasOnnxTeacher, type JobSpec } from '../../contract/spec';
import type { TeacherDataContract } from '../data/prepare';
import { readSidecar, readTeacherTokenizer } from './onnx-teacher';

/** The data contract of the spec's ONNX teacher; undefined for other teachers. */
export async function teacherDataContract(spec: JobSpec): Promise<TeacherDataContract | undefined> {
  if (!hasOnnxTeacher(spec)) return undefined;
  const { sidecar } = await readSidecar(spec.teacher.sidecar);
  return {
    tokenizer: await readTeacherTokenizer(sidecar, spec.teacher.sidecar),
    imageSize: sidecar.image.size,
    maxTextLength: sidecar.text.maxLength,
    pixelStats: { mean: [...sidecar.image.mean], std: [...sidecar.image.std] },
    ...(sidecar.answers ? { answers: sidecar.answers } : {}),
  };
}
