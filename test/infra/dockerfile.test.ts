/**
 * What can be checked of the trainer image without a Docker engine: digest-pinned bases (one ARG
 * each, checked at the context), a checksum-verified libtensorflow, the entry
 * point where tsc puts trainer/main.js, a runtime stage without sources or dev dependencies,
 * a non-root user, and a build context without node_modules and other bulk.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { DIGEST_PINNED_IMAGE } from '../../infra/batch/trainer-image';
import { parsePipelineContext } from '../../infra/context';
import { REPO_ROOT } from './helpers';

interface Stage {
  readonly image: string;
  readonly name?: string;
  readonly instructions: { op: string; args: string }[];
}

/** Splits a Dockerfile into stages of (instruction, arguments), joining `\` continuations. */
function parseDockerfile(text: string): Stage[] {
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const stages: { image: string; name?: string; instructions: { op: string; args: string }[] }[] = [];
  for (const line of lines) {
    const [, op, args] = /^(\S+)\s*(.*)$/.exec(line)!;
    if (op.toUpperCase() === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args)!;
      stages.push({ image: m[1], name: m[2], instructions: [] });
    } else if (stages.length > 0) {
      stages[stages.length - 1].instructions.push({ op: op.toUpperCase(), args });
    }
  }
  return stages;
}

const dockerfile = readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8');
const stages = parseDockerfile(dockerfile);

/** ARGs before the first FROM: name → how often declared, its default, the comment line above. */
function globalArgsOf(text: string): Map<string, { count: number; value?: string; comment: string }> {
  const out = new Map<string, { count: number; value?: string; comment: string }>();
  let comment = '';
  for (const line of text.split('\n').map((l) => l.trim())) {
    if (/^FROM\s/i.test(line)) break;
    if (line.startsWith('#')) comment = line;
    const m = /^ARG\s+([A-Za-z_][A-Za-z0-9_]*)(?:=(.*))?$/i.exec(line);
    if (m) out.set(m[1], { count: (out.get(m[1])?.count ?? 0) + 1, value: m[2], comment });
  }
  return out;
}
const globalArgs = globalArgsOf(dockerfile);
const stageNames = new Set(stages.map((s) => s.name).filter(Boolean));
const runtime = stages[stages.length - 1];
const stageNamed = (name: string) => stages.find((s) => s.name === name)!;
const copySource = (args: string) => /--from=(\S+)/.exec(args)?.[1];

describe('Dockerfile', () => {
  test("the production dependencies keep onnxruntime-node's linux-x64 binary only, and check it is there", () => {
    const runs = stageNamed('prod-deps').instructions.filter((i) => i.op === 'RUN').map((i) => i.args);
    const prune = runs.find((r) => r.includes('onnxruntime-node/bin/napi-v6'));
    expect(prune).toMatch(/! -path '\*\/linux\/x64' -exec rm -rf \{\} \+/);
    expect(prune).toMatch(/test -f node_modules\/onnxruntime-node\/bin\/napi-v6\/linux\/x64\/onnxruntime_binding\.node/);
  });

  test('has several stages and ends in the CUDA 11.2 + cuDNN 8 runtime', () => {
    expect(stages.length).toBeGreaterThanOrEqual(3);
    expect(runtime.image).toBe('${CUDA_IMAGE}');
    expect(globalArgs.get('CUDA_IMAGE')!.comment).toMatch(/nvidia\/cuda:11\.2\.2-cudnn8-runtime-ubuntu20\.04 .*pinned by digest/);
  });

  test('every base image is one build ARG, declared once before the first FROM, with no unpinned default', () => {
    const bases = stages.map((s) => s.image).filter((img) => !stageNames.has(img));
    expect(new Set(bases)).toEqual(new Set(['${NODE_IMAGE}', '${CUDA_IMAGE}']));
    for (const name of ['NODE_IMAGE', 'CUDA_IMAGE']) {
      const arg = globalArgs.get(name)!;
      expect({ name, declarations: arg.count, default: arg.value }).toEqual({ name, declarations: 1, default: undefined });
    }
  });

  test('the context keys that fill those ARGs accept only digest-pinned references', () => {
    const digest = 'a'.repeat(64);
    for (const ok of [`nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04@sha256:${digest}`, `123456789012.dkr.ecr.eu-west-1.amazonaws.com/mirror/node:22.14.0-bookworm-slim@sha256:${digest}`, `node@sha256:${digest}`]) {
      expect({ ok, matches: DIGEST_PINNED_IMAGE.test(ok) }).toEqual({ ok, matches: true });
      expect(parsePipelineContext({ cudaBaseImage: ok, nodeBaseImage: ok })).toMatchObject({ cudaBaseImage: ok, nodeBaseImage: ok });
    }
    for (const bad of ['nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04', `node@sha256:${digest.slice(1)}`, `node@sha256:${digest.toUpperCase()}`, `node@md5:${digest}`]) {
      expect(() => parsePipelineContext({ cudaBaseImage: bad })).toThrow(/context key "cudaBaseImage": must be an image pinned by digest: <repository>\[:<tag>\]@sha256:<64 hex digits>/);
    }
  });

  test('libtensorflow is downloaded by the Dockerfile and checked with sha256sum -c before the tfjs install scripts use it', () => {
    const deps = stageNamed('prod-deps');
    const install = deps.instructions.find((i) => i.op === 'RUN' && /npm ci/.test(i.args))!;
    // the tfjs-node-gpu install script ("install.js gpu download") must not run unchecked
    expect(install.args).toMatch(/--ignore-scripts/);
    const args = new Map(deps.instructions.filter((i) => i.op === 'ARG').map((i) => i.args.split('=') as [string, string]));
    for (const kind of ['GPU', 'CPU']) {
      expect(args.get(`LIBTENSORFLOW_${kind}_SHA256`)).toMatch(/^[0-9a-f]{64}$/);
      expect(args.get(`LIBTENSORFLOW_${kind}_URL`)).toMatch(new RegExp(`^https://storage\\.googleapis\\.com/tensorflow/libtensorflow/libtensorflow-${kind.toLowerCase()}-linux-x86_64-2\\.9\\.1\\.tar\\.gz$`));
    }
    const fetchRun = deps.instructions.find((i) => i.op === 'RUN' && /LIBTENSORFLOW_GPU_URL/.test(i.args))!;
    const order = ['LIBTENSORFLOW_GPU_URL', 'LIBTENSORFLOW_GPU_SHA256', 'sha256sum -c -', 'tar -xzf', 'node scripts/install.js gpu'].map((s) => fetchRun.args.indexOf(s));
    expect(order.every((p) => p >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    // without "download", install.js uses the checked library in deps/ instead of fetching its own
    expect(fetchRun.args).not.toMatch(/install\.js gpu download/);
    expect(deps.instructions.indexOf(install)).toBeLessThan(deps.instructions.indexOf(fetchRun));
  });

  test('the entry point is where tsc writes trainer/main.ts', () => {
    const tsconfig = JSON.parse(readFileSync(path.join(REPO_ROOT, 'tsconfig.json'), 'utf8')) as { compilerOptions: { outDir: string; rootDir: string } };
    const { outDir, rootDir } = tsconfig.compilerOptions;
    const compiled = path.posix.join(outDir, path.posix.relative(rootDir, 'trainer/main.ts')).replace(/\.ts$/, '.js');
    const entrypoint = runtime.instructions.filter((i) => i.op === 'ENTRYPOINT').pop();
    expect(JSON.parse(entrypoint!.args)).toEqual(['node', compiled]);
    // and the runtime gets that folder from the stage that ran tsc
    const builder = stages.find((s) => s.instructions.some((i) => i.op === 'RUN' && /npm run build/.test(i.args)))!;
    expect(runtime.instructions).toContainEqual({ op: 'COPY', args: `--from=${builder.name} /src/${outDir} ./${outDir}` });
  });

  test('the runtime stage copies only build outputs and production node_modules', () => {
    const copies = runtime.instructions.filter((i) => i.op === 'COPY' || i.op === 'ADD');
    for (const c of copies) {
      // no COPY from the build context (sources, package files) into the runtime stage
      expect({ copy: c.args, fromStage: copySource(c.args) !== undefined }).toEqual({ copy: c.args, fromStage: true });
    }
    expect(runtime.instructions.some((i) => i.op === 'RUN' && /npm (ci|install)/.test(i.args))).toBe(false);
    const modules = copies.find((c) => /node_modules/.test(c.args))!;
    const depsStage = stageNamed(copySource(modules.args)!);
    const install = depsStage.instructions.find((i) => i.op === 'RUN' && /npm ci/.test(i.args))!;
    expect(install.args).toMatch(/--omit=dev/);
    // installed on the same OS as the runtime, so the tfjs-node-gpu addon matches it
    expect(depsStage.image).toBe(runtime.image);
  });

  test('runs as a non-root user', () => {
    const user = runtime.instructions.filter((i) => i.op === 'USER').pop();
    expect(user).toBeDefined();
    expect(user!.args.split(':')[0]).not.toMatch(/^(root|0)$/);
  });

  test('the builder copies every top-level folder the trainer needs, transitively', () => {
    // GIVEN the folders that trainer sources import, and what those import in turn (contract/ …)
    const needed = new Set<string>(['trainer']);
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir)) {
        const p = path.join(dir, entry);
        if (statSync(p).isDirectory()) walk(p);
        else if (p.endsWith('.ts')) {
          for (const m of readFileSync(p, 'utf8').matchAll(/from '(\.\.?\/[^']+)'/g)) {
            needed.add(path.relative(REPO_ROOT, path.resolve(path.dirname(p), m[1])).split(path.sep)[0]);
          }
        }
      }
    };
    const seen = new Set<string>();
    while ([...needed].some((d) => !seen.has(d))) {
      const dir = [...needed].find((d) => !seen.has(d))!;
      seen.add(dir);
      walk(path.join(REPO_ROOT, dir));
    }
    // THEN each is copied into the stage that runs tsc
    const builder = stages.find((s) => s.instructions.some((i) => i.op === 'RUN' && /npm run build/.test(i.args)))!;
    const copied = builder.instructions.filter((i) => i.op === 'COPY' && !copySource(i.args)).map((i) => i.args.split(/\s+/)[0]);
    for (const dir of needed) expect({ dir, copied: copied.includes(dir) }).toEqual({ dir, copied: true });
  });
});

describe('.dockerignore', () => {
  test('keeps node_modules, build outputs, runs and git history out of the build context', () => {
    const entries = readFileSync(path.join(REPO_ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    expect(entries).toEqual(expect.arrayContaining(['node_modules', 'runs', 'cdk.out', 'dist', '.git', 'test-artifacts']));
  });
});
