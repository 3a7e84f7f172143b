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
# Building needs internet access (npm registry; the tfjs-node-gpu install script downloads
# libtensorflow from storage.googleapis.com). `cdk deploy` builds and pushes it; `cdk synth` only
# stages the build context.

FROM node:22.14.0-bookworm-slim AS node

# ---------------------------------------------------------------------------------------------
FROM node:22.14.0-bookworm-slim AS builder
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
FROM nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04 AS prod-deps
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/npm
RUN ln -s /usr/local/lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=dev leaves out the CDK, jest, esbuild and friends. Optional dependencies stay: this is
# where @tensorflow/tfjs-node-gpu installs (and @tensorflow/tfjs-node, which the trainer only
# falls back to when no GPU is visible).
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force
# onnxruntime-node ships every platform's CPU binary (~300 MB); this image runs on linux-x64
# only, so keep that one (the Lambdas carry linux-arm64: infra/functions/model-runtimes.ts).
RUN find node_modules/onnxruntime-node/bin/napi-v6 -mindepth 2 -maxdepth 2 ! -path '*/linux/x64' -exec rm -rf {} + \
 && test -f node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node

# ---------------------------------------------------------------------------------------------
FROM nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04 AS runtime
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
