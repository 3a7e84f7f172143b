/**
 * A real S3 HTTP server (s3rver) on 127.0.0.1 and a free port for the duration of a test file,
 * with the S3 storage pointed at it. Call `useLocalS3(buckets)` at the top level of a test file.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resetS3StorageForTests } from '../../contract/s3-storage';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver');

export interface LocalS3 {
  /** Scratch folder of the test file (s3rver's data lives beneath it). */
  tmp: string;
}

export function useLocalS3(buckets: readonly string[]): LocalS3 {
  const state: LocalS3 = { tmp: '' };
  let server: { close(): Promise<void> } | undefined;
  const savedEnv = { ...process.env };
  beforeAll(async () => {
    state.tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'amad-s3-'));
    const s = new S3rver({
      address: '127.0.0.1',
      port: 0, // the OS picks a free port
      silent: true,
      directory: path.join(state.tmp, 's3rver'),
      configureBuckets: buckets.map((name) => ({ name, configs: [] })),
    });
    const addr = (await s.run()) as { port: number };
    server = s;
    process.env.AMAD_S3_ENDPOINT = `http://127.0.0.1:${addr.port}`;
    process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
    process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
    process.env.AWS_REGION = 'us-east-1';
    resetS3StorageForTests();
  });
  afterAll(async () => {
    resetS3StorageForTests();
    await server?.close();
    process.env = savedEnv;
    await fs.rm(state.tmp, { recursive: true, force: true });
  });
  return state;
}
