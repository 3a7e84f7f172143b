/**
 * A small fragment of German grammar, enough for the synthetic translation task: singular noun
 * phrases with a definite or indefinite article and attributive adjectives, in nominative,
 * accusative or dative case. Articles and adjective endings depend on the noun's grammatical
 * gender, so the target's words depend on which shape the image shows, not only on the English.
 * Endings follow the standard declension tables: weak after the definite article, mixed after
 * the indefinite one (e.g. Duden, "Die Grammatik", adjective declension).
 */
import type { Colour, Shape, Size } from './world';

export type Gender = 'm' | 'f' | 'n';
export type Case = 'nom' | 'acc' | 'dat';

export const NOUNS: Readonly<Record<Shape, { readonly word: string; readonly gender: Gender }>> = {
  circle: { word: 'Kreis', gender: 'm' },
  square: { word: 'Quadrat', gender: 'n' },
  triangle: { word: 'Dreieck', gender: 'n' },
  diamond: { word: 'Raute', gender: 'f' },
};
export const COLOUR_STEMS: Readonly<Record<Colour, string>> = {
  red: 'rot', green: 'grün', blue: 'blau', yellow: 'gelb', white: 'weiß', gray: 'grau',
};
export const SIZE_STEMS: Readonly<Record<Size, string>> = { small: 'klein', large: 'groß' };

const DEFINITE: Readonly<Record<Case, Record<Gender, string>>> = {
  nom: { m: 'der', f: 'die', n: 'das' },
  acc: { m: 'den', f: 'die', n: 'das' },
  dat: { m: 'dem', f: 'der', n: 'dem' },
};
const INDEFINITE: Readonly<Record<Case, Record<Gender, string>>> = {
  nom: { m: 'ein', f: 'eine', n: 'ein' },
  acc: { m: 'einen', f: 'eine', n: 'ein' },
  dat: { m: 'einem', f: 'einer', n: 'einem' },
};
/** Weak declension (after der/die/das), singular. */
const WEAK_ENDING: Readonly<Record<Case, Record<Gender, string>>> = {
  nom: { m: 'e', f: 'e', n: 'e' },
  acc: { m: 'en', f: 'e', n: 'e' },
  dat: { m: 'en', f: 'en', n: 'en' },
};
/** Mixed declension (after ein/eine), singular. */
const MIXED_ENDING: Readonly<Record<Case, Record<Gender, string>>> = {
  nom: { m: 'er', f: 'e', n: 'es' },
  acc: { m: 'en', f: 'e', n: 'es' },
  dat: { m: 'en', f: 'en', n: 'en' },
};

export interface NounPhrase {
  readonly shape: Shape;
  /** Adjective stems in order ("klein", "rot"). */
  readonly adjectives: readonly string[];
  readonly definite: boolean;
  readonly grammaticalCase: Case;
}

/** "der kleine rote Kreis", "einen roten Kreis", "dem blauen Dreieck"… */
export function nounPhrase(p: NounPhrase): string {
  const { word, gender } = NOUNS[p.shape];
  const article = (p.definite ? DEFINITE : INDEFINITE)[p.grammaticalCase][gender];
  const ending = (p.definite ? WEAK_ENDING : MIXED_ENDING)[p.grammaticalCase][gender];
  return [article, ...p.adjectives.map((a) => a + ending), word].join(' ');
}

/** Preposition + dative noun phrase, with the obligatory contraction von + dem → vom. */
export function prepositionalPhrase(preposition: string, p: NounPhrase): string {
  const np = nounPhrase({ ...p, grammaticalCase: 'dat' });
  if (preposition.endsWith('von') && p.definite && np.startsWith('dem ')) return `${preposition.slice(0, -3)}vom ${np.slice(4)}`;
  return `${preposition} ${np}`;
}
