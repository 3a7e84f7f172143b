/**
 * Learning-rate schedule: linear warm-up from 0 to `lr` over `warmupSteps`, then cosine decay to
 * `minLrRatio · lr` at `totalSteps` (the schedule of GPT-style training, as in nanoGPT's get_lr).
 */
export interface LrSchedule {
  readonly lr: number;
  readonly warmupSteps: number;
  readonly totalSteps: number;
  /** Floor of the cosine, as a fraction of lr. @default 0.1 */
  readonly minLrRatio?: number;
}

/** Learning rate for 0-based `step`. */
export function getLr(step: number, s: LrSchedule): number {
  const minLr = s.lr * (s.minLrRatio ?? 0.1);
  if (s.warmupSteps > 0 && step < s.warmupSteps) return (s.lr * (step + 1)) / s.warmupSteps;
  if (step >= s.totalSteps) return minLr;
  const span = Math.max(1, s.totalSteps - s.warmupSteps);
  const progress = (step - s.warmupSteps) / span; // 0 → 1
  return minLr + 0.5 * (1 + Math.cos(Math.PI * progress)) * (s.lr - minLr);
}
