/**
 * What can be checked of the trainer image without a Docker engine: pinned bases, the entry
 * point where tsc puts trainer/main.js, a runtime stage without sources or dev dependencies,
 * a non-root user, and a build context without node_modules and other bulk.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
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
    expect(runtime.image).toBe('nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04');
  });

  test('pins every base image to an exact version tag', () => {
    const bases = stages.map((s) => s.image).filter((img) => !stageNames.has(img));
    expect(bases.length).toBeGreaterThan(0);
    for (const image of bases) {
      const tag = image.split(':')[1];
      expect({ image, pinned: tag !== undefined && tag !== 'latest' && /\d+\.\d+\.\d+/.test(tag) }).toEqual({ image, pinned: true });
    }
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
