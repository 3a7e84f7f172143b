/**
 * Synthetic VQA: one question per image about colour, shape, count, existence or a spatial
 * relation, with exactly one answer. Each example is built backwards from a target answer drawn
 * uniformly from its question type's answer set, and the scene is then made to satisfy it. So,
 * for any fixed question text, every answer of its type is (close to) equally likely: the
 * question alone predicts nothing beyond chance, the image decides.
 */
import type { Prng } from '../prng';
import {
  COLOURS, INVERSE_RELATION, MAX_OBJECTS, RELATIONS, SHAPES,
  placeObjects, randomSpec, relationsOf,
  type Colour, type ObjectSpec, type Relation, type Scene, type Shape,
} from './world';

export const VQA_QUESTION_TYPES = ['colour', 'shape', 'count', 'exist', 'relation'] as const;
export type VqaQuestionType = (typeof VQA_QUESTION_TYPES)[number];

export interface SyntheticVqa {
  readonly scene: Scene;
  readonly question: string;
  readonly answer: string;
  readonly type: VqaQuestionType;
}

export const PLURAL: Readonly<Record<Shape, string>> = { circle: 'circles', square: 'squares', triangle: 'triangles', diamond: 'diamonds' };
const RELATION_PHRASE: Readonly<Record<Relation, string>> = {
  left: 'to the left of', right: 'to the right of', above: 'above', below: 'below',
};
const COUNT_WORDS = ['1', '2', '3', '4'] as const;

/** Every answer the generator can give, per question type. */
export const VQA_ANSWERS: Readonly<Record<VqaQuestionType, readonly string[]>> = {
  colour: COLOURS,
  shape: SHAPES,
  count: COUNT_WORDS,
  exist: ['yes', 'no'],
  relation: ['yes', 'no'],
};

function others<T>(all: readonly T[], exclude: readonly T[]): T[] {
  return all.filter((v) => !exclude.includes(v));
}

/** Random specs for n objects; the first `fixed.length` take the given attributes. */
function specsWith(rng: Prng, n: number, fixed: Partial<ObjectSpec>[]): ObjectSpec[] {
  return Array.from({ length: n }, (_, i) => ({ ...randomSpec(rng), ...(fixed[i] ?? {}) }));
}

export function makeVqaExample(rng: Prng): SyntheticVqa {
  const type = rng.pick(VQA_QUESTION_TYPES);
  const answer = rng.pick(VQA_ANSWERS[type]);
  switch (type) {
    case 'colour': {
      // The target is the only object of its shape, so "the <shape>" names it.
      const colour = answer as Colour;
      const specs = specsWith(rng, 1 + rng.int(MAX_OBJECTS), [{ colour }]);
      const shape = specs[0]!.shape;
      for (const s of specs.slice(1)) if (s.shape === shape) s.shape = rng.pick(others(SHAPES, [shape]));
      const question = rng.chance(0.5) ? `what color is the ${shape}?` : `what is the color of the ${shape}?`;
      return { scene: placeObjects(rng, specs), question, answer, type };
    }
    case 'shape': {
      const shape = answer as Shape;
      const specs = specsWith(rng, 1 + rng.int(MAX_OBJECTS), [{ shape }]);
      const colour = specs[0]!.colour;
      for (const s of specs.slice(1)) if (s.colour === colour) s.colour = rng.pick(others(COLOURS, [colour]));
      const question = rng.chance(0.5) ? `what shape is the ${colour} object?` : `what is the shape of the ${colour} thing?`;
      return { scene: placeObjects(rng, specs), question, answer, type };
    }
    case 'count': {
      const k = Number(answer);
      if (rng.chance(0.5)) {
        const question = rng.chance(0.5) ? 'how many shapes are there?' : 'how many objects are in the image?';
        return { scene: placeObjects(rng, specsWith(rng, k, [])), question, answer, type };
      }
      // k objects of one shape among n ≥ k.
      const shape = rng.pick(SHAPES);
      const n = k + rng.int(MAX_OBJECTS - k + 1);
      const specs = specsWith(rng, n, []);
      specs.forEach((s, i) => (s.shape = i < k ? shape : rng.pick(others(SHAPES, [shape]))));
      return { scene: placeObjects(rng, specs), question: `how many ${PLURAL[shape]} are there?`, answer, type };
    }
    case 'exist': {
      const colour = rng.pick(COLOURS);
      const shape = rng.pick(SHAPES);
      const specs = specsWith(rng, 1 + rng.int(MAX_OBJECTS), []);
      if (answer === 'yes') Object.assign(specs[rng.int(specs.length)]!, { colour, shape });
      else for (const s of specs) if (s.colour === colour && s.shape === shape) s.colour = rng.pick(others(COLOURS, [colour]));
      const question = rng.chance(0.5) ? `is there a ${colour} ${shape}?` : `is there a ${colour} ${shape} in the image?`;
      return { scene: placeObjects(rng, specs), question, answer, type };
    }
    case 'relation': {
      // Two objects named by colour + shape, unique in the scene.
      const specs = specsWith(rng, 2 + rng.int(MAX_OBJECTS - 1), []);
      const [a, b] = specs as [ObjectSpec, ObjectSpec];
      if (a.colour === b.colour && a.shape === b.shape) b.colour = rng.pick(others(COLOURS, [a.colour]));
      for (const s of specs.slice(2)) {
        if ((s.colour === a.colour && s.shape === a.shape) || (s.colour === b.colour && s.shape === b.shape)) {
          s.colour = rng.pick(others(COLOURS, [a.colour, b.colour]));
        }
      }
      const scene = placeObjects(rng, specs);
      const holds = relationsOf(scene.objects[0]!, scene.objects[1]!);
      const relation = answer === 'yes' ? rng.pick(holds) : rng.pick(others(RELATIONS, holds));
      // Half the time ask it the other way round (b relative to a): same truth, other wording.
      const swap = rng.chance(0.5);
      const [x, y] = swap ? [b, a] : [a, b];
      const rel = swap ? INVERSE_RELATION[relation] : relation;
      const question = `is the ${x.colour} ${x.shape} ${RELATION_PHRASE[rel]} the ${y.colour} ${y.shape}?`;
      return { scene, question, answer, type };
    }
  }
}
