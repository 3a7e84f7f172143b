/** Distillation losses, layer mapping and the teacher-attention cache (METHOD.md). */
export * from './attention-loss';
export { createProjection, MAX_PROJECTION_SIZE, type ProjectionParams } from './projection';
export { DistillInputError } from './errors';
export { KL_EPSILON, stopGradient } from './tensor-utils';
export * from './relation-loss';
export * from './logit-loss';
export * from './objective';
export * from './layer-map';
export * from './cache';
