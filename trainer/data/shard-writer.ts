/**
 * Accumulates records and writes them as shards of `shardSize` records through contract/storage
 * (`put` is atomic per object). It returns the manifest entries (file, count, bytes, sha256);
 * the manifest itself is written after every shard, so a half-written split is never listed
 * anywhere.
 */
import { createHash } from 'node:crypto';
import { joinUri, storageFor } from '../../contract/storage';
import type { ShardEntry } from './manifest';
import { encodeShard, type ShardHeader, type ShardRecord } from './shard-format';

export class ShardWriter {
  private pending: ShardRecord[] = [];
  private readonly written: ShardEntry[] = [];

  constructor(
    private readonly outUri: string,
    private readonly header: Omit<ShardHeader, 'count'>,
    private readonly shardSize: number,
    /** File of the k-th shard this writer writes (relative to outUri). */
    private readonly fileFor: (k: number) => string,
    /** Example shards: the image shard their records point into (recorded in each entry). */
    private readonly imagesFile?: string,
  ) {}

  /** Number of records added so far. */
  get count(): number {
    return this.written.reduce((n, s) => n + s.count, 0) + this.pending.length;
  }

  async add(record: ShardRecord): Promise<void> {
    this.pending.push(record);
    if (this.pending.length >= this.shardSize) await this.flush();
  }

  /** Writes the remaining records and returns every shard's entry. */
  async finish(): Promise<ShardEntry[]> {
    await this.flush();
    return this.written;
  }

  private async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const file = this.fileFor(this.written.length);
    const body = encodeShard(this.header, this.pending);
    const uri = joinUri(this.outUri, file);
    await storageFor(uri).put(uri, body);
    this.written.push({
      file,
      count: this.pending.length,
      bytes: body.length,
      sha256: createHash('sha256').update(body).digest('hex'),
      ...(this.imagesFile !== undefined ? { images: this.imagesFile } : {}),
    });
    this.pending = [];
  }
}
