/**
 * Text → token ids, one vocabulary for questions, source sentences and targets.
 *
 * Word tokenizer (built from the training split):
 * - lower-cased first when `lowercase` (the default);
 * - a token is a run of letters/digits, with internal apostrophes kept ("what's", "don't"),
 *   or a single punctuation/symbol character ("?", ",", ":"); whitespace only separates;
 * - vocabulary = SPECIAL_TOKEN_STRINGS (ids 0..3, batch.ts), then training words with count ≥
 *   minCount by descending count (ties alphabetical, so the order is deterministic), capped at
 *   maxVocab entries in total; unknown words → [UNK].
 * WordPiece tokenizer (a user's BERT vocab.txt): BERT's basic tokenizer (lower-case and strip
 * accents when `lowercase`, split punctuation), then greedy longest-match-first pieces with "##"
 * continuations; a word with no complete segmentation, or longer than 100 characters, → [UNK].
 * Our special tokens keep ids 0..3 ([PAD] [UNK] [BOS] [EOS]); the file's [PAD]/[UNK] and BERT's
 * [CLS]/[SEP] (whose roles BOS/EOS take) are folded into them, and every other line takes the
 * next id in file order. (Ids therefore differ from the file's line numbers: no pretrained
 * embedding is loaded by this project, only the segmentation.)
 *
 * Decoding drops PAD/BOS, stops at EOS and joins tokens with single spaces ("##" pieces glued).
 */
import { SPECIAL_TOKENS, SPECIAL_TOKEN_STRINGS } from './batch';
import { DataError } from './errors';

export interface EncodeOptions {
  /** Output length; shorter sequences are padded with PAD, longer ones truncated. */
  readonly length: number;
  /** Wrap in BOS … EOS (decoder targets). EOS survives truncation. @default false */
  readonly bosEos?: boolean;
}

export interface Encoded {
  readonly ids: Int32Array;
  /** Tokens dropped by truncation. */
  readonly truncated: number;
  /** Tokens that became [UNK]. */
  readonly unknown: number;
}

export interface TokenizerJson {
  readonly kind: 'word' | 'wordpiece';
  readonly version: 1;
  readonly lowercase: boolean;
  /** Token strings by id; the first four are SPECIAL_TOKEN_STRINGS. */
  readonly vocab: readonly string[];
}

const WORD_OR_SYMBOL = /[\p{L}\p{N}]+(?:['’][\p{L}\p{N}]+)*|[^\s\p{L}\p{N}]/gu;
const MAX_WORDPIECE_CHARS = 100;
/** The CJK Unified Ideograph blocks BERT tokenises one character at a time (`_is_chinese_char`). */
const CJK = /[\u{4E00}-\u{9FFF}\u{3400}-\u{4DBF}\u{20000}-\u{2A6DF}\u{2A700}-\u{2B73F}\u{2B740}-\u{2B81F}\u{2B820}-\u{2CEAF}\u{F900}-\u{FAFF}\u{2F800}-\u{2FA1F}]/gu;

/** Word tokenisation shared by building and encoding (see the module comment). */
export function splitWords(text: string, lowercase: boolean): string[] {
  return (lowercase ? text.toLowerCase() : text).match(WORD_OR_SYMBOL) ?? [];
}

export abstract class Tokenizer {
  protected readonly index: Map<string, number>;

  constructor(
    readonly vocab: readonly string[],
    readonly lowercase: boolean,
  ) {
    if (vocab.length <= SPECIAL_TOKEN_STRINGS.length) {
      throw new DataError(
        'vocabulary',
        `vocabulary has ${vocab.length} entries but the ${SPECIAL_TOKEN_STRINGS.length} special tokens (${SPECIAL_TOKEN_STRINGS.join(' ')}) alone take that many: ` +
          'raise tokenizer.maxVocab, lower tokenizer.minCount, or give a vocabulary with real tokens',
      );
    }
    SPECIAL_TOKEN_STRINGS.forEach((s, i) => {
      if (vocab[i] !== s) throw new DataError('vocabulary', `vocabulary entry ${i} must be ${s}, found ${JSON.stringify(vocab[i])}`);
    });
    this.index = new Map();
    vocab.forEach((t, i) => {
      if (!this.index.has(t)) this.index.set(t, i);
    });
  }

  abstract readonly kind: 'word' | 'wordpiece';

  get vocabSize(): number {
    return this.vocab.length;
  }

  /** Token strings of a text (UNK-mapped pieces appear as "[UNK]"). */
  abstract tokenize(text: string): string[];

  /** Ids of a text, unpadded. */
  toIds(text: string): { ids: number[]; unknown: number } {
    let unknown = 0;
    const ids = this.tokenize(text).map((t) => {
      const id = this.index.get(t);
      if (id === undefined || id === SPECIAL_TOKENS.UNK) {
        unknown++;
        return SPECIAL_TOKENS.UNK;
      }
      return id;
    });
    return { ids, unknown };
  }

  /** Fixed-length ids: [BOS] tokens [EOS] (when bosEos), then PAD; truncation keeps EOS. */
  encode(text: string, opts: EncodeOptions): Encoded {
    const { ids: tokens, unknown } = this.toIds(text);
    const out = new Int32Array(opts.length); // PAD = 0
    const room = opts.bosEos ? opts.length - 2 : opts.length;
    if (room < 0) throw new RangeError(`encode: length ${opts.length} cannot hold [BOS] and [EOS]`);
    const kept = Math.min(room, tokens.length);
    let p = 0;
    if (opts.bosEos) out[p++] = SPECIAL_TOKENS.BOS;
    for (let i = 0; i < kept; i++) out[p++] = tokens[i]!;
    if (opts.bosEos) out[p++] = SPECIAL_TOKENS.EOS;
    return { ids: out, truncated: tokens.length - kept, unknown };
  }

  /** Text of ids: PAD and BOS dropped, stops at EOS. */
  decode(ids: ArrayLike<number>): string {
    const words: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (id === SPECIAL_TOKENS.EOS) break;
      if (id === SPECIAL_TOKENS.PAD || id === SPECIAL_TOKENS.BOS) continue;
      words.push(this.vocab[id] ?? SPECIAL_TOKEN_STRINGS[SPECIAL_TOKENS.UNK]);
    }
    return this.join(words);
  }

  protected join(words: string[]): string {
    return words.join(' ');
  }

  toJSON(): TokenizerJson {
    return { kind: this.kind, version: 1, lowercase: this.lowercase, vocab: this.vocab };
  }
}

export class WordTokenizer extends Tokenizer {
  readonly kind = 'word' as const;

  tokenize(text: string): string[] {
    return splitWords(text, this.lowercase);
  }
}

export interface BuildVocabOptions {
  readonly minCount: number;
  readonly maxVocab: number;
  readonly lowercase: boolean;
}

/** Builds the word vocabulary from training texts (see the module comment for the rules). */
export function buildWordTokenizer(texts: Iterable<string>, opts: BuildVocabOptions): WordTokenizer {
  if (opts.maxVocab <= SPECIAL_TOKEN_STRINGS.length) {
    throw new DataError(
      'vocabulary',
      `tokenizer.maxVocab = ${opts.maxVocab} leaves no room for words: the ${SPECIAL_TOKEN_STRINGS.length} special tokens take ids 0..${SPECIAL_TOKEN_STRINGS.length - 1}; use maxVocab > ${SPECIAL_TOKEN_STRINGS.length}`,
    );
  }
  const counts = new Map<string, number>();
  for (const text of texts) for (const w of splitWords(text, opts.lowercase)) counts.set(w, (counts.get(w) ?? 0) + 1);
  const specials = new Set<string>(SPECIAL_TOKEN_STRINGS);
  const words = [...counts]
    .filter(([w, c]) => c >= opts.minCount && !specials.has(w))
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, opts.maxVocab - SPECIAL_TOKEN_STRINGS.length)
    .map(([w]) => w);
  if (words.length === 0) {
    throw new DataError(
      'vocabulary',
      `no training word occurs at least tokenizer.minCount = ${opts.minCount} times (${counts.size} distinct words): the vocabulary would hold only the special tokens; lower minCount`,
    );
  }
  return new WordTokenizer([...SPECIAL_TOKEN_STRINGS, ...words], opts.lowercase);
}

/** BERT's punctuation test: ASCII non-alphanumerics plus Unicode P* categories. */
function isPunctuation(ch: string): boolean {
  const c = ch.codePointAt(0)!;
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) return true;
  return /\p{P}/u.test(ch);
}

export class WordPieceTokenizer extends Tokenizer {
  readonly kind = 'wordpiece' as const;

  /**
   * BERT BasicTokenizer: drop control/format characters (whitespace controls become spaces), put
   * spaces around CJK ideographs, (lower-case + strip accents), split on whitespace and punctuation.
   */
  basicTokenize(text: string): string[] {
    let t = text.replace(/[\u0000\ufffd]|[\p{Cc}\p{Cf}]/gu, (c) => (/\s/.test(c) ? ' ' : '')).replace(CJK, ' $& ');
    if (this.lowercase) t = t.toLowerCase().normalize('NFD').replace(/\p{Mn}/gu, '');
    const out: string[] = [];
    for (const word of t.split(/\s+/)) {
      let cur = '';
      for (const ch of word) {
        if (isPunctuation(ch)) {
          if (cur) out.push(cur);
          out.push(ch);
          cur = '';
        } else cur += ch;
      }
      if (cur) out.push(cur);
    }
    return out;
  }

  /** Greedy longest-match-first segmentation of one word. */
  wordPieces(word: string): string[] {
    const chars = [...word];
    if (chars.length > MAX_WORDPIECE_CHARS) return [SPECIAL_TOKEN_STRINGS[SPECIAL_TOKENS.UNK]];
    const pieces: string[] = [];
    let start = 0;
    while (start < chars.length) {
      let end = chars.length;
      let found: string | null = null;
      while (start < end) {
        const piece = (start > 0 ? '##' : '') + chars.slice(start, end).join('');
        if (this.index.has(piece)) {
          found = piece;
          break;
        }
        end--;
      }
      if (found === null) return [SPECIAL_TOKEN_STRINGS[SPECIAL_TOKENS.UNK]];
      pieces.push(found);
      start = end;
    }
    return pieces;
  }

  tokenize(text: string): string[] {
    return this.basicTokenize(text).flatMap((w) => this.wordPieces(w));
  }

  protected override join(words: string[]): string {
    return words.join(' ').replace(/ ##/g, '');
  }
}

/** BERT names of special tokens folded into ours. */
const BERT_SPECIALS: Readonly<Record<string, string>> = {
  '[PAD]': '[PAD]', '[UNK]': '[UNK]', '[CLS]': '[BOS]', '[SEP]': '[EOS]', '[BOS]': '[BOS]', '[EOS]': '[EOS]',
};

/** Loads a BERT-style vocab.txt (`fileName` only names it in errors). */
export function loadWordPieceVocab(text: string, lowercase: boolean, fileName = 'vocab.txt'): WordPieceTokenizer {
  const lines = text.split(/\r?\n/).map((l) => l.trimEnd()).filter((l) => l !== '');
  const rest: string[] = [];
  const seen = new Set<string>(SPECIAL_TOKEN_STRINGS);
  for (const l of lines) {
    if (l in BERT_SPECIALS || seen.has(l)) continue;
    seen.add(l);
    rest.push(l);
  }
  if (rest.length === 0) {
    throw new DataError(
      'vocabulary',
      `${fileName}: ${lines.length} line(s) and no token besides the special tokens (${SPECIAL_TOKEN_STRINGS.join(' ')}): a WordPiece vocab.txt needs one token per line`,
    );
  }
  return new WordPieceTokenizer([...SPECIAL_TOKEN_STRINGS, ...rest], lowercase);
}

/** Restores a tokenizer saved with `toJSON()` (tokenizer.json next to the shards). */
export function tokenizerFromJson(json: unknown, fileName = 'tokenizer.json'): Tokenizer {
  const j = json as Partial<TokenizerJson>;
  if (!j || (j.kind !== 'word' && j.kind !== 'wordpiece') || !Array.isArray(j.vocab) || typeof j.lowercase !== 'boolean') {
    throw new DataError('bad-manifest', `${fileName}: not a tokenizer file (expected {kind: "word"|"wordpiece", version: 1, lowercase, vocab: [...]})`);
  }
  const vocab = j.vocab.map(String);
  return j.kind === 'word' ? new WordTokenizer(vocab, j.lowercase) : new WordPieceTokenizer(vocab, j.lowercase);
}
