/**
 * Errors of data preparation and reading. Each message names the file, field or example it is
 * about and, where there is one, the fix; `DataError.code` lets callers (the Lambda, the CLI)
 * branch without parsing text.
 */

export type DataErrorCode =
  | 'missing-image'
  | 'bad-image'
  | 'bad-json'
  | 'id-mismatch'
  | 'empty-split'
  | 'vocabulary'
  | 'bad-shard'
  | 'bad-manifest'
  | 'bad-input';

export class DataError extends Error {
  constructor(
    readonly code: DataErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'DataError';
  }
}

/** Raised when a shard fails its checksum or its header/size does not match the manifest. */
export class ShardIntegrityError extends DataError {
  constructor(
    readonly shardUri: string,
    message: string,
  ) {
    super('bad-shard', `shard ${shardUri}: ${message}`);
    this.name = 'ShardIntegrityError';
  }
}
