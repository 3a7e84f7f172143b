/**
 * Synthetic captioning: several reference captions per image that all describe the same scene
 * but differ in word order (which object comes first, relation or its inverse), synonyms
 * (small/little/tiny, square/box, gray/grey…) and how much they mention (size, the other
 * objects). Like COCO's five human captions, no single reference is "the" answer.
 */
import type { Prng } from '../prng';
import { INVERSE_RELATION, relationOf, type Relation, type Scene, type SceneObject } from './world';

const SIZE_WORDS = { small: ['small', 'little', 'tiny'], large: ['large', 'big'] } as const;
const SHAPE_WORDS = { circle: ['circle', 'disc'], square: ['square', 'box'], triangle: ['triangle'], diamond: ['diamond', 'rhombus'] } as const;
const COLOUR_WORDS = { red: ['red'], green: ['green'], blue: ['blue'], yellow: ['yellow'], white: ['white'], gray: ['gray', 'grey'] } as const;
const RELATION_WORDS: Readonly<Record<Relation, readonly string[]>> = {
  left: ['to the left of', 'left of'],
  right: ['to the right of', 'right of'],
  above: ['above', 'over'],
  below: ['below', 'under', 'beneath'],
};
const NUMBER_WORDS = ['zero', 'one', 'two', 'three', 'four'] as const;

/** "a small red circle", "a red circle" (size dropped), with synonyms. */
function objectPhrase(rng: Prng, o: SceneObject): string {
  const words: string[] = [rng.pick<string>(COLOUR_WORDS[o.colour]), rng.pick<string>(SHAPE_WORDS[o.shape])];
  if (rng.chance(0.7)) words.unshift(rng.pick<string>(SIZE_WORDS[o.size]));
  return 'a ' + words.join(' ');
}

function oneCaption(rng: Prng, scene: Scene): string {
  const objs = scene.objects;
  if (objs.length === 1) {
    const obj = objectPhrase(rng, objs[0]!);
    const form = rng.int(4);
    return form === 0 ? obj : form === 1 ? `there is ${obj}` : form === 2 ? `${obj} on a dark background` : `a picture of ${obj}`;
  }
  // Describe one pair through its relation (either direction), then mention the rest.
  const order = rng.shuffle(objs.slice());
  const [a, b] = order as [SceneObject, SceneObject];
  const relation = relationOf(a, b)!;
  const pair = rng.chance(0.5)
    ? `${objectPhrase(rng, a)} ${rng.pick(RELATION_WORDS[relation])} ${objectPhrase(rng, b)}`
    : `${objectPhrase(rng, b)} ${rng.pick(RELATION_WORDS[INVERSE_RELATION[relation]])} ${objectPhrase(rng, a)}`;
  const rest = order.length - 2;
  let text = pair;
  if (rest === 1 && rng.chance(0.5)) text += ` and ${objectPhrase(rng, order[2]!)}`;
  else if (rest === 1) text += ' and one other shape';
  else if (rest > 1) text += rng.chance(0.5) ? ` and ${NUMBER_WORDS[rest]} other shapes` : ` with ${NUMBER_WORDS[rest]} more objects`;
  return rng.chance(0.3) ? `${NUMBER_WORDS[order.length]} shapes : ${text}` : text;
}

/**
 * Longest caption in words (":" counts): with [BOS] and [EOS] it fits the default decoder length
 * of 16 (source.ts maxTargetLength), so references are not cut off.
 */
export const MAX_CAPTION_WORDS = 15;

const wordCount = (s: string) => s.split(' ').length;

/**
 * `count` reference captions for `scene`, distinct and at most MAX_CAPTION_WORDS long where the
 * scene allows (a bounded number of retries; a one-object scene has few phrasings, and then a
 * caption may repeat).
 */
export function makeCaptions(rng: Prng, scene: Scene, count: number): string[] {
  const out: string[] = [];
  for (let attempt = 0; out.length < count && attempt < count * 10; attempt++) {
    const c = oneCaption(rng, scene);
    if (wordCount(c) <= MAX_CAPTION_WORDS && !out.includes(c)) out.push(c);
  }
  while (out.length < count) {
    const c = oneCaption(rng, scene);
    if (wordCount(c) <= MAX_CAPTION_WORDS) out.push(c);
  }
  return out;
}
