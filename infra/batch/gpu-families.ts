/**
 * Which EC2 GPU families the trainer image can use.
 *
 * The image runs @tensorflow/tfjs-node-gpu 4.22, whose install script fetches libtensorflow 2.9.1
 * built against CUDA 11.2 and cuDNN 8.1 (Dockerfile). cuDNN 8.1 supports NVIDIA compute
 * capabilities up to 8.6 (Ampere); Ada (8.9) and Hopper (9.0) arrived with CUDA 11.8 / cuDNN 8.6.
 * So the supported families are the x86-64 NVIDIA ones whose GPU is Volta, Turing or Ampere;
 * the newer ones are refused with that reason rather than left to fail at the first kernel.
 */

/** Family → GPU of the families the image supports natively (x86-64, NVIDIA, CC ≤ 8.6). */
export const SUPPORTED_GPU_FAMILIES: Readonly<Record<string, string>> = {
  g4dn: 'NVIDIA T4 (Turing, compute capability 7.5)',
  g5: 'NVIDIA A10G (Ampere, 8.6)',
  p3: 'NVIDIA V100 (Volta, 7.0)',
  p3dn: 'NVIDIA V100 32 GB (Volta, 7.0)',
  p4d: 'NVIDIA A100 40 GB (Ampere, 8.0)',
  p4de: 'NVIDIA A100 80 GB (Ampere, 8.0)',
};

const NEWER_THAN_CUDA_11_2 =
  'is newer than the CUDA 11.2 / cuDNN 8.1 build of libtensorflow 2.9.1 that tfjs-node-gpu 4.22 uses (first supported by CUDA 11.8 / cuDNN 8.6)';

/** Family → why the trainer image cannot use it. */
export const REFUSED_GPU_FAMILIES: Readonly<Record<string, string>> = {
  g6: `its NVIDIA L4 (Ada, compute capability 8.9) ${NEWER_THAN_CUDA_11_2}`,
  gr6: `its NVIDIA L4 (Ada, compute capability 8.9) ${NEWER_THAN_CUDA_11_2}`,
  g6e: `its NVIDIA L40S (Ada, compute capability 8.9) ${NEWER_THAN_CUDA_11_2}`,
  p5: `its NVIDIA H100 (Hopper, compute capability 9.0) ${NEWER_THAN_CUDA_11_2}`,
  p5e: `its NVIDIA H200 (Hopper, compute capability 9.0) ${NEWER_THAN_CUDA_11_2}`,
  p5en: `its NVIDIA H200 (Hopper, compute capability 9.0) ${NEWER_THAN_CUDA_11_2}`,
  g4ad: 'its GPU is an AMD Radeon Pro V520: the image needs an NVIDIA GPU (CUDA)',
  g5g: 'it is Arm (Graviton) with an NVIDIA T4G: the image is x86-64 (amd64)',
};

/** vCPUs of an instance size in the GPU families (xlarge = 4, 2xlarge = 8, …); undefined otherwise. */
export function vCpusOfSize(size: string): number | undefined {
  if (size === 'xlarge') return 4;
  const m = /^(\d+)xlarge$/.exec(size);
  return m ? Number(m[1]) * 4 : undefined;
}

/**
 * Why `instanceType` cannot run the trainer, or undefined when it can: the message names the
 * supported families so the fix is in it.
 */
export function gpuInstanceTypeProblem(instanceType: string): string | undefined {
  const [family, size = ''] = instanceType.split('.');
  const supported = Object.keys(SUPPORTED_GPU_FAMILIES).join(', ');
  const refused = REFUSED_GPU_FAMILIES[family];
  if (refused !== undefined) return `${instanceType} is refused: ${refused}; use one of the families ${supported}`;
  if (!(family in SUPPORTED_GPU_FAMILIES)) return `${instanceType} is not a supported GPU type: use one of the families ${supported}`;
  if (vCpusOfSize(size) === undefined) return `${instanceType} is not a GPU size: use size xlarge or <n>xlarge`;
  return undefined;
}
