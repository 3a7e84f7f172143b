/** CacheTeacherShard's event: one item of the CacheTeacher Map. */
import { CacheTeacherShardInputSchema } from '../../contract/events';

export const CacheTeacherEventSchema = CacheTeacherShardInputSchema;
export type { CacheTeacherShardInput as CacheTeacherEvent } from '../../contract/events';

export interface CacheTeacherResult {
  readonly shardIndex: number;
  /** Files written for this shard. */
  readonly files: number;
  /** True when a valid marker made the shard skip (resume). */
  readonly skipped: boolean;
}
