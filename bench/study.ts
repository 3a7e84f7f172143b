/**
 * `npm run study -- [--phases vqa-primary,…] [--root <dir>] [--blocks <n>] [--summarise-only] [--out <file>] [--readme <file>] [--commit <sha>]`
 *
 * Runs the study of docs/STUDY.md (bench/study-spec.ts) through the local pipeline, one block of
 * seeds at a time (each block is one `amad run`, resumed when interrupted), then rewrites the
 * results block of docs/RESULTS.md (between its STUDY-RESULTS markers; --out), the plots
 * docs/study-<phase>.svg and the verdict table of README.md (its RESULTS block; --readme, ''
 * for none) from whatever blocks are complete under --root. Runs belong
 * OUTSIDE the repository (e.g. `--root /work/study-runs`): they survive a session and resume.
 *
 * `--summarise-only` trains nothing: it re-reads the completed blocks and rewrites the results.
 * `--commit <sha>`: the commit the code was built from, recorded beside each new run when the
 * runner runs from a copy of the tree without `.git` (a frozen copy, so that editing the
 * worktree while the study runs cannot change the code that trains it).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import '../cli/polyfills';
import { runCommand } from '../cli/commands/run';
import { defaultDeps } from '../cli/commands/deps';
import { blockDone, summariseStudy } from './study-summary';
import { blockRunId, phaseBlocks, STUDY_PHASES, studyBlockSpec, studyPhase, type StudyPhase } from './study-spec';
import { commitOf } from './git-commit';

interface Args {
  phases: StudyPhase[];
  root: string;
  /** Stop after this many blocks were run by this invocation (all when absent). */
  blocks?: number;
  summariseOnly: boolean;
  out: string;
  readme: string;
  commit?: string;
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { phases: [...STUDY_PHASES], root: 'study-runs', summariseOnly: false, out: 'docs/RESULTS.md', readme: 'README.md' };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    if (flag === '--phases') a.phases = value().split(',').filter(Boolean).map(studyPhase);
    else if (flag === '--root') a.root = path.resolve(value());
    else if (flag === '--blocks') a.blocks = Number(value());
    else if (flag === '--summarise-only') a.summariseOnly = true;
    else if (flag === '--out') a.out = value();
    else if (flag === '--readme') a.readme = argv[++i] ?? '';
    else if (flag === '--commit') a.commit = value();
    else throw new Error(`unknown argument ${flag} (use --phases ${STUDY_PHASES.map((p) => p.id).join(',')}, --root <dir>, --blocks <n>, --summarise-only, --out <file>, --readme <file>, --commit <sha>)`);
  }
  if (a.blocks !== undefined && !(Number.isInteger(a.blocks) && a.blocks > 0)) throw new Error('--blocks must be a positive integer');
  return { ...a, root: path.resolve(a.root) };
}


/** Which code trained a block and when it started: written beside its spec when the block starts. */
export interface BlockProvenance {
  readonly commit: string;
  readonly startedAt: string;
  readonly command: string;
}

export const provenanceFile = (root: string, runId: string) => path.join(root, 'specs', `${runId}.provenance.json`);

export function readBlockProvenance(root: string, runId: string): BlockProvenance | undefined {
  const f = provenanceFile(root, runId);
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as BlockProvenance) : undefined;
}


async function trainBlocks(a: Args, command: string): Promise<number> {
  mkdirSync(path.join(a.root, 'specs'), { recursive: true });
  let ran = 0;
  let status = 0;
  for (const p of a.phases) {
    const blocks = phaseBlocks(p);
    for (let b = 0; b < blocks.length; b++) {
      const runId = blockRunId(p, b);
      if (await blockDone(a.root, runId)) continue;
      if (a.blocks !== undefined && ran >= a.blocks) return status;
      const spec = studyBlockSpec(p, b, a.root);
      const file = path.join(a.root, 'specs', `${runId}.json`);
      writeFileSync(file, JSON.stringify(spec, null, 2) + '\n');
      if (!existsSync(provenanceFile(a.root, runId))) {
        const prov: BlockProvenance = { commit: a.commit ?? commitOf(), startedAt: new Date().toISOString(), command };
        writeFileSync(provenanceFile(a.root, runId), JSON.stringify(prov, null, 2) + '\n');
      }
      process.stdout.write(`[study] ${new Date().toISOString()} block ${runId} (seeds ${blocks[b].join(', ')}) starts\n`);
      const s = await runCommand({ spec: file, resume: true, root: a.root }, defaultDeps());
      process.stdout.write(`[study] ${new Date().toISOString()} block ${runId} ended with status ${s}\n`);
      ran++;
      if (s !== 0) {
        status = s;
        // A failed block 0 leaves no teacher for the phase's other blocks: go to the next phase.
        if (b === 0) break;
      }
    }
  }
  return status;
}

export async function run(argv: readonly string[]): Promise<void> {
  const a = parseArgs(argv);
  const command = `npm run study${argv.length ? ' -- ' + argv.join(' ') : ''}`;
  if (!a.summariseOnly) process.exitCode = await trainBlocks(a, command);
  await summariseStudy({ root: a.root, phases: a.phases, out: a.out, command, plotsDir: path.dirname(a.out), readme: a.readme || undefined });
}

if (require.main === module) {
  run(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`error: ${(e as Error).message}\n`);
    process.exitCode = 1;
  });
}
