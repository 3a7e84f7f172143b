/**
 * A small synthetic ReportData built in code (deterministic): a teacher, three students over
 * three seeds, one failed student, alignment weights, attention samples and predictions.
 */
import { encodeRgbImage, type ReportDataInput } from '../../../trainer/report';

/** Deterministic uniform [0, 1) numbers (LCG) so the fixture is identical on every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** A 32×32 "shapes" image: a coloured disc on a background; disc centre in pixels. */
export function shapeImage(cx: number, cy: number, colour: [number, number, number]) {
  const S = 32;
  const rgb = new Uint8Array(S * S * 3);
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      const inside = (x - cx) ** 2 + (y - cy) ** 2 <= 36;
      const c = inside ? colour : [235, 235, 225];
      rgb.set(c, (y * S + x) * 3);
    }
  }
  return encodeRgbImage(rgb, S, S);
}

/** Attention over an 8×8 patch grid peaked at the disc (patch = 4 px), rows normalised to 1. */
function patchAttention(cx: number, cy: number, sharpness: number, r: () => number): number[][] {
  const g: number[][] = [];
  let total = 0;
  for (let i = 0; i < 8; i++) {
    const row: number[] = [];
    for (let j = 0; j < 8; j++) {
      const d2 = (j * 4 + 2 - cx) ** 2 + (i * 4 + 2 - cy) ** 2;
      const v = Math.exp(-d2 / (2 * sharpness ** 2)) + 0.05 * r();
      row.push(v);
      total += v;
    }
    g.push(row);
  }
  return g.map((row) => row.map((v) => v / total));
}

/** Loss parts (nats) at curve point k: the teacher has only ground truth, a student all three terms. */
function lossParts(role: 'teacher' | 'student', k: number): Record<string, number> {
  if (role === 'teacher') return { total: 3 * Math.exp(-k / 4) + 0.4 };
  return { total: 3.5 * Math.exp(-k / 4) + 0.5, gt: 2 * Math.exp(-k / 4) + 0.3, kd: Math.exp(-k / 5) + 0.1, attn: 0.5 * Math.exp(-k / 3) + 0.1 };
}

function softmaxRows(m: number[][]): number[][] {
  return m.map((row) => {
    const e = row.map(Math.exp);
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  });
}

export function makeReportFixture(options: { failStudent?: boolean } = {}): ReportDataInput {
  const r = rng(7);
  const seeds = [0, 1, 2];
  const quality: Record<string, number> = { teacher: 0.72, 'student-amad': 0.66, 'student-one-to-one': 0.62, 'student-none': 0.58 };
  const model = (id: string, label: string, role: 'teacher' | 'student', method: string | undefined, params: number, p50: number) => ({
    id,
    label,
    role,
    method,
    status: 'ok' as const,
    seeds: seeds.map((seed) => ({ seed, metrics: { vqaAccuracy: quality[id]! + 0.01 * (r() - 0.5), plainAccuracy: quality[id]! + 0.05 + 0.01 * r() } })),
    params,
    flops: params * 90,
    fileBytes: params * 4 + 2048,
    latencyMs: { batch1: { p50, p95: p50 * 1.3 }, batch32: { p50: p50 * 9, p95: p50 * 11 } },
    learningCurve: {
      valMetric: 'vqaAccuracy',
      points: Array.from({ length: 12 }, (_, k) => ({
        step: k * 50,
        loss: lossParts(role, k),
        val: k % 3 === 2 ? quality[id]! * (1 - Math.exp(-k / 3)) : undefined,
      })),
    },
  });
  const models: NonNullable<ReportDataInput['models']> = [
    model('teacher', 'Teacher (8 heads)', 'teacher', undefined, 3_200_000, 41),
    model('student-amad', 'Student AMAD', 'student', 'AMAD (kl)', 820_000, 12.5),
    model('student-one-to-one', 'Student one-to-one', 'student', 'one-to-one', 820_000, 12.4),
    model('student-none', 'Student no attention KD', 'student', 'logit KD only', 820_000, 12.6),
  ];
  if (options.failStudent) {
    models.push({
      id: 'student-minilm',
      label: 'Student MiniLMv2',
      role: 'student',
      method: 'MiniLMv2 relations',
      status: 'failed',
      error: 'train student: RangeError: <oom> wasm heap exhausted at step 120 (B=64) & "retry with microBatch"',
      learningCurve: { points: [{ step: 0, loss: { total: 4 } }, { step: 50, loss: { total: 3.1 } }, { step: 100, loss: { total: 2.8 } }] },
    });
  }
  const early = softmaxRows(Array.from({ length: 8 }, () => Array.from({ length: 4 }, () => 0.3 * r())));
  const late = softmaxRows(Array.from({ length: 8 }, (_, i) => Array.from({ length: 4 }, (_, j) => (j === i % 4 ? 1.8 : 0) + 0.2 * r())));
  const disc: [number, number, [number, number, number]][] = [[10, 12, [213, 94, 0]], [22, 20, [0, 114, 178]]];
  return {
    runId: 'run-2026-11-27-fixture',
    task: 'vqa',
    createdAt: '2026-11-27T08:00:00Z',
    spec: { task: 'vqa', data: { source: 'synthetic', seed: 1 }, students: [{ id: 'student-amad', heads: 4, loss: { variant: 'kl', temperature: 1 } }], seeds },
    software: { node: 'v20.19.0', '@tensorflow/tfjs': '4.22.0', 'amad-distill': '0.1.0' },
    backend: 'wasm',
    runTimeSeconds: 1834.5,
    estimatedCost: { usd: 0.4312, basis: 'local run: electricity estimate 0.1 kWh' },
    metrics: [
      { key: 'vqaAccuracy', label: 'VQA accuracy', unit: '%', scale: 100 },
      { key: 'plainAccuracy', label: 'Top-1 accuracy', unit: '%', scale: 100 },
    ],
    models,
    alignment: [
      { modelId: 'student-amad', module: 'fusion self-attention', teacherLayer: 3, studentLayer: 1, early: { step: 50, weights: early }, late: { step: 550, weights: late } },
    ],
    attentionSamples: disc.map(([cx, cy, colour], k) => ({
      exampleId: `q${k}`,
      image: shapeImage(cx, cy, colour),
      caption: `[CLS] → image patches, last fusion layer`,
      kind: 'patch-grid' as const,
      maps: [
        { modelId: 'teacher', layer: 3, heads: Array.from({ length: 8 }, (_, h) => patchAttention(cx, cy, 3 + h, r)) },
        { modelId: 'student-amad', layer: 1, heads: Array.from({ length: 4 }, (_, h) => patchAttention(cx, cy, 4 + h * 2, r)) },
      ],
    })),
    samplePredictions: Array.from({ length: 8 }, (_, k) => ({
      exampleId: `q${k}`,
      image: shapeImage(8 + 2 * k, 10 + k, k % 2 ? [0, 158, 115] : [204, 121, 167]),
      input: `what colour is the ${k % 2 ? 'circle' : 'disc'} <b>?`,
      references: ['green', 'green', 'teal'],
      outputs: [
        { modelId: 'teacher', output: 'green', score: 1 },
        { modelId: 'student-amad', output: k % 3 ? 'green' : 'blue', score: k % 3 ? 1 : 0 },
        { modelId: 'student-one-to-one', output: k % 4 ? 'green' : 'red', score: k % 4 ? 1 : 0 },
      ],
    })),
    failures: [],
  };
}
