/**
 * The trainer image built from the repository's Dockerfile, with its base images pinned by digest.
 *
 * The Dockerfile has no default for its base images (NODE_IMAGE, CUDA_IMAGE build args): a tag
 * alone is not reproducible (NVIDIA deletes old CUDA tags; Docker Hub re-points tags on rebuilds),
 * and a digest cannot be looked up here. The deployer resolves the digests once (docs/DEPLOY.md,
 * "Image pinning"), ideally of copies mirrored into their own ECR, and passes them as context.
 */
import { Annotations } from 'aws-cdk-lib';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import type { IConstruct } from 'constructs';
import { findRepoRoot } from '../repo-root';

/** `<repository>[:<tag>]@sha256:<64 hex>`: an image reference pinned by digest. */
export const DIGEST_PINNED_IMAGE = /^[a-z0-9][a-z0-9._\-/:]*(:[\w][\w.-]{0,127})?@sha256:[0-9a-f]{64}$/;

export interface TrainerBaseImages {
  /** node:22.14.0-bookworm-slim (or its mirror), pinned by digest → build arg NODE_IMAGE. */
  readonly nodeBaseImage?: string;
  /** nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04 (or its mirror), pinned by digest → CUDA_IMAGE. */
  readonly cudaBaseImage?: string;
}

/**
 * The repository Dockerfile as an image asset: staged by `cdk synth`, built only by `cdk deploy`.
 * Without both digests a warning says so at synth, and the image build would fail at its first FROM.
 */
export function trainerImageFromRepo(scope: IConstruct, base: TrainerBaseImages = {}): ecs.ContainerImage {
  const buildArgs: Record<string, string> = {};
  if (base.nodeBaseImage) buildArgs.NODE_IMAGE = base.nodeBaseImage;
  if (base.cudaBaseImage) buildArgs.CUDA_IMAGE = base.cudaBaseImage;
  const missing = (['nodeBaseImage', 'cudaBaseImage'] as const).filter((k) => !base[k]);
  if (missing.length > 0) {
    Annotations.of(scope).addWarningV2(
      'amad:trainer-base-unpinned',
      `the trainer image cannot be built without ${missing.join(' and ')}: pass them pinned by digest ` +
        '(-c cudaBaseImage=<repo>@sha256:<digest> -c nodeBaseImage=<repo>@sha256:<digest>; docs/DEPLOY.md, "Image pinning")',
    );
  }
  return ecs.ContainerImage.fromAsset(findRepoRoot(), { file: 'Dockerfile', platform: Platform.LINUX_AMD64, buildArgs });
}
