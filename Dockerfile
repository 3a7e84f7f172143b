# syntax=docker/dockerfile:1
#
# The trainer container: `node dist/trainer/main.js` on CUDA, for AWS Batch GPU jobs.
#
# Stages:
#   node       the official Node 22 binaries (reused below; no curl | bash, no PPA)
#   builder    npm ci + tsc → dist/
#   prod-deps  production node_modules, installed on the CUDA base itself so that the
#              @tensorflow/tfjs-node-gpu addon and its libtensorflow match the runtime OS
#   runtime    CUDA 11.2 + cuDNN 8 runtime, node, dist/, production node_modules; non-root
#
# Why CUDA 11.2 / cuDNN 8 on Ubuntu 20.04: @tensorflow/tfjs-node-gpu 4.22 downloads libtensorflow
# 2.9.1, which is built against CUDA 11.2 and cuDNN 8.1. Node 22's official linux-x64 binaries
# need glibc >= 2.28; Ubuntu 20.04 has 2.31.
#
# Building needs internet access (npm registry, the base images, libtensorflow from
# storage.googleapis.com). `cdk deploy` builds and pushes it; `cdk synth` only stages the build
# context.
#
# Reproducible: both base images are pinned by digest, each given once as a build ARG in the form
# <repository>[:<tag>]@sha256:<64 hex digits> (NVIDIA deletes old CUDA tags: mirror the base into
# your own ECR repository and pin that). There is no default: the deployer resolves the digests
# (docs/DEPLOY.md, "Image pinning") and passes them as the CDK context keys cudaBaseImage and
# nodeBaseImage, which become these build args. libtensorflow is checked against LIBTENSORFLOW_SHA256.

# node:22.14.0-bookworm-slim (or its ECR mirror), pinned by digest.
ARG NODE_IMAGE
# nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04 (or its ECR mirror), pinned by digest.
ARG CUDA_IMAGE

FROM ${NODE_IMAGE} AS node

# ---------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS builder
WORKDIR /src
COPY package.json package-lock.json ./
# The optional native tfjs packages are not needed to compile (they are loaded with require()
# at run time) and their install scripts would download libtensorflow for nothing.
RUN npm ci --omit=optional --no-audit --no-fund
COPY tsconfig.json ./
COPY contract ./contract
COPY trainer ./trainer
# Lambda stages the planner places on Batch run their handler in this container (main.ts --stage).
COPY lambdas ./lambdas
RUN npm run build

# ---------------------------------------------------------------------------------------------
FROM ${CUDA_IMAGE} AS prod-deps
# libtensorflow 2.9.1 (what tfjs-node(-gpu) 4.22 loads), GPU and CPU builds, with their sha256.
# The values were taken from a published Bazel build definition (wamuir/graft, whose http_archive
# rules verify them on every download); the build below fails on any other content.
ARG LIBTENSORFLOW_GPU_URL=https://storage.googleapis.com/tensorflow/libtensorflow/libtensorflow-gpu-linux-x86_64-2.9.1.tar.gz
ARG LIBTENSORFLOW_GPU_SHA256=20c46f761d5905f592c4eac0812e8e50d9cb439f9440a9391912cf4c02ed8be8
ARG LIBTENSORFLOW_CPU_URL=https://storage.googleapis.com/tensorflow/libtensorflow/libtensorflow-cpu-linux-x86_64-2.9.1.tar.gz
ARG LIBTENSORFLOW_CPU_SHA256=7f510d2546e3db5e10b1d119463689003d587842892ad3c95bca51cf82820173
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/npm
RUN ln -s /usr/local/lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=dev leaves out the CDK, jest, esbuild and friends. Optional dependencies stay: this is
# where @tensorflow/tfjs-node-gpu installs (and @tensorflow/tfjs-node, which the trainer only
# falls back to when no GPU is visible). --ignore-scripts: tfjs-node-gpu's install script runs
# `install.js gpu download`, which downloads libtensorflow unchecked. The other install scripts
# of the production tree are a banner (core-js), a version check (protobufjs) and onnxruntime-node's
# optional GPU-provider download, which the repository's .npmrc skips as well.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund
# Download each libtensorflow, check it (sha256sum -c fails the build on any mismatch) and unpack
# it where the tfjs install script looks first (deps/lib/libtensorflow.so.2.9.1). Then run that
# script without "download": it finds the checked library and only installs the binding.
RUN fetch() { node -e 'fetch(process.argv[1]).then(async (r) => { if (!r.ok) throw new Error(`${r.status} ${process.argv[1]}`); require("fs").writeFileSync(process.argv[2], Buffer.from(await r.arrayBuffer())); })' "$1" "$2"; } \
 && fetch "$LIBTENSORFLOW_GPU_URL" /tmp/libtensorflow-gpu.tar.gz \
 && fetch "$LIBTENSORFLOW_CPU_URL" /tmp/libtensorflow-cpu.tar.gz \
 && printf '%s  %s\n' "$LIBTENSORFLOW_GPU_SHA256" /tmp/libtensorflow-gpu.tar.gz "$LIBTENSORFLOW_CPU_SHA256" /tmp/libtensorflow-cpu.tar.gz | sha256sum -c - \
 && mkdir -p node_modules/@tensorflow/tfjs-node-gpu/deps node_modules/@tensorflow/tfjs-node/deps \
 && tar -xzf /tmp/libtensorflow-gpu.tar.gz -C node_modules/@tensorflow/tfjs-node-gpu/deps \
 && tar -xzf /tmp/libtensorflow-cpu.tar.gz -C node_modules/@tensorflow/tfjs-node/deps \
 && rm /tmp/libtensorflow-*.tar.gz \
 && (cd node_modules/@tensorflow/tfjs-node-gpu && node scripts/install.js gpu) \
 && (cd node_modules/@tensorflow/tfjs-node && node scripts/install.js cpu) \
 && npm cache clean --force
# onnxruntime-node ships every platform's CPU binary (~300 MB); this image runs on linux-x64
# only, so keep that one (the Lambdas carry linux-arm64: infra/functions/model-runtimes.ts).
RUN find node_modules/onnxruntime-node/bin/napi-v6 -mindepth 2 -maxdepth 2 ! -path '*/linux/x64' -exec rm -rf {} + \
 && test -f node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node

# ---------------------------------------------------------------------------------------------
FROM ${CUDA_IMAGE} AS runtime
ENV NODE_ENV=production \
    AMAD_BACKEND=node-gpu \
    HOME=/tmp
COPY --from=node /usr/local/bin/node /usr/local/bin/node
RUN groupadd --gid 10001 amad \
 && useradd --uid 10001 --gid amad --no-create-home --home-dir /tmp --shell /usr/sbin/nologin amad
WORKDIR /app
# Owned by root and read-only for the trainer: it writes only to S3 (and /tmp).
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=builder /src/dist ./dist
USER 10001:10001
# Batch stops a job with SIGTERM: the trainer checkpoints and exits 75 ("resume me").
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/trainer/main.js"]
