/**
 * What every data layout reader (synthetic, VQA v2, COCO captions, Multi30K) hands to
 * prepareData: per split, the examples' text and a way to load each image. Texts are in memory
 * (they are small and the vocabulary needs all of them first); pixels are loaded one example at a
 * time while shards are written.
 */
import type { DataTask } from '../source';

export interface RawExample {
  /** Example id (the record id; captioning train records append "#k"). */
  readonly id: string;
  /** Identifies the image; examples that share an image share the key. */
  readonly imageKey: string;
  /** Where the image comes from (a URI, or a description for generated images), for errors. */
  readonly imageUri: string;
  /** Question (VQA), source sentence (translation), "" (captioning). */
  readonly text: string;
  /** Captions (captioning: all references), the target sentence (translation), none (VQA). */
  readonly targets: readonly string[];
  /**
   * VQA: the annotators' answers AS WRITTEN (only whitespace cleaned, like vqaEval.py): they are
   * the evaluation references. prepareData normalises them itself for classes and soft scores.
   */
  readonly answers?: readonly string[];
  /** VQA: the layout's label answer as written (VQA v2: `multiple_choice_answer`); none → the most frequent normalised answer. */
  readonly label?: string;
  /** RGB uint8 `[S, S, 3]` at the requested size. @throws DataError 'missing-image' | 'bad-image' */
  readonly loadImage: () => Promise<Uint8Array>;
}

export interface LoadedSource {
  readonly task: DataTask;
  readonly train: readonly RawExample[];
  readonly val: readonly RawExample[];
  /** 'val' when the layout has no test split (val doubles as test). */
  readonly test: readonly RawExample[] | 'val';
  /** For the manifest: the generator seed and counts, or the files read. */
  readonly description: Record<string, unknown>;
}
