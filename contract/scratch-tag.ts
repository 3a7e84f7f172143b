/**
 * Which artifact objects are scratch (re-creatable, large, short-lived) and how they are marked.
 *
 * S3 lifecycle filters match a key *prefix* or *tags*, never a wildcard: `runs/*\/checkpoints/`
 * cannot be a prefix filter because the run id sits in the middle. So the writer tags scratch
 * objects (`x-amz-tagging` on PutObject / CreateMultipartUpload) and the bucket's lifecycle
 * rule filters on that tag. This module has no CDK imports so that the S3 storage
 * implementation can use it at run time.
 */

/** Tag key the lifecycle rule filters on. */
export const SCRATCH_TAG_KEY = 'amad-distill:lifecycle';
/** Tag value marking an object as scratch. */
export const SCRATCH_TAG_VALUE = 'scratch';

/**
 * Scratch keys: anything under a `checkpoints/` or `cache/` folder of a run, at any depth
 * (`runs/<id>/checkpoints/…`, `runs/<id>/models/<variant>/checkpoints/…`, `runs/<id>/cache/…`).
 */
export const SCRATCH_KEY_PATTERN = /^runs\/[^/]+\/(?:[^/]+\/)*(?:checkpoints|cache)\//;

/** True when `key` (an S3 object key, no leading slash) is a scratch object. */
export function isScratchKey(key: string): boolean {
  return SCRATCH_KEY_PATTERN.test(key);
}

/** The `x-amz-tagging` header value (`Tagging` in the SDK) for `key`, or undefined. */
export function scratchTaggingFor(key: string): string | undefined {
  return isScratchKey(key)
    ? `${encodeURIComponent(SCRATCH_TAG_KEY)}=${encodeURIComponent(SCRATCH_TAG_VALUE)}`
    : undefined;
}
