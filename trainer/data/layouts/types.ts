/**
 * What every data layout reader (synthetic, VQA v2, COCO captions, Multi30K) hands to the
 * preparation planner: per split, the images in order, each with the examples that use it
 * (questions, captions, sentence pairs). Everything here is plain JSON: the planner writes it to
 * chunk files and the chunk step, possibly in another process, reads it back and loads pixels.
 */
import type { DataTask } from '../source';

export interface SourceExample {
  /** Example id (the record id; captioning train records append "#k"). */
  readonly id: string;
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
}

export interface SourceImage {
  /** Identifies the image; stored as the image record's id. */
  readonly key: string;
  /** Where the image comes from (a URI, or `synthetic:<seed>/<id>` for generated images). */
  readonly uri: string;
  /** Names the image in errors, e.g. "question 42 (image 7)". */
  readonly what: string;
  readonly examples: readonly SourceExample[];
}

export interface LoadedSource {
  readonly task: DataTask;
  readonly train: readonly SourceImage[];
  readonly val: readonly SourceImage[];
  /** 'val' when the layout has no test split (val doubles as test). */
  readonly test: readonly SourceImage[] | 'val';
  /** For the manifest: the generator seed and counts, or the files read. */
  readonly description: Record<string, unknown>;
}

/** Groups examples by image, images in order of first use, examples in file order within an image. */
export class ImageGrouper {
  private readonly byKey = new Map<string, { key: string; uri: string; what: string; examples: SourceExample[] }>();

  add(key: string, uri: string, what: () => string, example: SourceExample): void {
    let g = this.byKey.get(key);
    if (!g) {
      g = { key, uri, what: what(), examples: [] };
      this.byKey.set(key, g);
    }
    g.examples.push(example);
  }

  images(): SourceImage[] {
    return [...this.byKey.values()];
  }
}
