/**
 * Synthetic multimodal translation, English → German-like. The English source never names the
 * shapes ("the red shape is left of the blue one"); the German target must (der rote Kreis /
 * die rote Raute / das rote Dreieck…), and its articles and adjective endings agree with the
 * noun's gender. The referents are drawn uniformly, so from the text alone a noun is a 1-in-4
 * guess; the image decides it. Every referent is the only object of its colour, so the colour
 * word of the source picks out exactly one object in the image.
 */
import type { Prng } from '../prng';
import { nounPhrase, prepositionalPhrase, COLOUR_STEMS, SIZE_STEMS } from './german';
import {
  COLOURS, MAX_OBJECTS, placeObjects, randomSpec, relationsOf,
  type Colour, type ObjectSpec, type Relation, type Scene, type SceneObject, type Shape,
} from './world';

export interface SyntheticTranslation {
  readonly scene: Scene;
  readonly source: string;
  readonly target: string;
  /** The shapes the target names, in order (what a text-only translator cannot know). */
  readonly referents: readonly Shape[];
}

const EN_RELATION: Readonly<Record<Relation, readonly string[]>> = {
  left: ['left of', 'to the left of'],
  right: ['right of', 'to the right of'],
  above: ['above'],
  below: ['below', 'under'],
};
const DE_RELATION: Readonly<Record<Relation, string>> = { left: 'links von', right: 'rechts von', above: 'über', below: 'unter' };
const EN_NOUN = ['shape', 'object'] as const;

/**
 * n ≥ k random specs whose first k are the referents; no other object shares a referent's
 * colour, and the referents' colours differ.
 */
function referentSpecs(rng: Prng, k: number): ObjectSpec[] {
  const specs = Array.from({ length: k + rng.int(MAX_OBJECTS - k + 1) }, () => randomSpec(rng));
  const used: Colour[] = [];
  for (let i = 0; i < k; i++) {
    const s = specs[i]!;
    if (used.includes(s.colour)) s.colour = rng.pick(COLOURS.filter((c) => !used.includes(c)));
    used.push(s.colour);
  }
  for (const s of specs.slice(k)) if (used.includes(s.colour)) s.colour = rng.pick(COLOURS.filter((c) => !used.includes(c)));
  return specs;
}

export function makeTranslationExample(rng: Prng): SyntheticTranslation {
  const form = rng.int(4);
  const noun = rng.pick(EN_NOUN);
  if (form === 0) {
    // Relation between two referents: nominative subject, dative object of the preposition.
    const specs = referentSpecs(rng, 2);
    const scene = placeObjects(rng, specs);
    const [a, b] = scene.objects as readonly [SceneObject, SceneObject];
    const rel = rng.pick(relationsOf(a, b));
    const source = `the ${a.colour} ${noun} is ${rng.pick(EN_RELATION[rel])} the ${b.colour} one`;
    const subject = nounPhrase({ shape: a.shape, adjectives: [COLOUR_STEMS[a.colour]], definite: true, grammaticalCase: 'nom' });
    const object = prepositionalPhrase(DE_RELATION[rel], { shape: b.shape, adjectives: [COLOUR_STEMS[b.colour]], definite: true, grammaticalCase: 'dat' });
    return { scene, source, target: `${subject} ist ${object}`, referents: [a.shape, b.shape] };
  }
  const specs = referentSpecs(rng, form === 3 ? 2 : 1);
  // "the small shape" must be the only small one: the other objects take the other size.
  if (form === 2) for (const s of specs.slice(1)) s.size = specs[0]!.size === 'small' ? 'large' : 'small';
  const scene = placeObjects(rng, specs);
  const a = scene.objects[0]!;
  if (form === 1) {
    // Existential: accusative, indefinite (mixed endings: einen kleinen roten Kreis / ein kleines rotes Dreieck).
    const np = nounPhrase({ shape: a.shape, adjectives: [SIZE_STEMS[a.size], COLOUR_STEMS[a.colour]], definite: false, grammaticalCase: 'acc' });
    return { scene, source: `there is a ${a.size} ${a.colour} ${noun}`, target: `es gibt ${np}`, referents: [a.shape] };
  }
  if (form === 2) {
    // Predicative colour: nominative definite subject, the predicate adjective is uninflected.
    const np = nounPhrase({ shape: a.shape, adjectives: [SIZE_STEMS[a.size]], definite: true, grammaticalCase: 'nom' });
    return { scene, source: `the ${a.size} ${noun} is ${a.colour}`, target: `${np} ist ${COLOUR_STEMS[a.colour]}`, referents: [a.shape] };
  }
  // Coordination: two indefinite nominatives (ein roter Kreis und eine blaue Raute).
  const b = scene.objects[1]!;
  const np1 = nounPhrase({ shape: a.shape, adjectives: [COLOUR_STEMS[a.colour]], definite: false, grammaticalCase: 'nom' });
  const np2 = nounPhrase({ shape: b.shape, adjectives: [COLOUR_STEMS[b.colour]], definite: false, grammaticalCase: 'nom' });
  return { scene, source: `a ${a.colour} ${noun} and a ${b.colour} one`, target: `${np1} und ${np2}`, referents: [a.shape, b.shape] };
}
