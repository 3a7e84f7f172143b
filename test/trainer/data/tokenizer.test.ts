import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { SPECIAL_TOKENS, SPECIAL_TOKEN_STRINGS } from '../../../trainer/data/batch';
import { openDataset } from '../../../trainer/data/dataset';
import { prepareData } from '../../../trainer/data/prepare';
import { DataError } from '../../../trainer/data/errors';
import { buildWordTokenizer, loadWordPieceVocab, splitWords, tokenizerFromJson } from '../../../trainer/data/tokenizer';

const opts = { minCount: 1, maxVocab: 100, lowercase: true };

describe('splitWords', () => {
  it('lower-cases, keeps internal apostrophes and splits punctuation into tokens', () => {
    expect(splitWords("What's the COLOR, of the circle?", true)).toEqual(["what's", 'the', 'color', ',', 'of', 'the', 'circle', '?']);
    expect(splitWords('Der rote Kreis', false)).toEqual(['Der', 'rote', 'Kreis']);
    expect(splitWords('groß   weiß', true)).toEqual(['groß', 'weiß']);
  });
});

describe('word tokenizer', () => {
  it('puts the special tokens first, then words by count (ties alphabetical)', () => {
    const tok = buildWordTokenizer(['b a a', 'c b a', 'd'], opts);
    expect(tok.vocab.slice(0, 4)).toEqual([...SPECIAL_TOKEN_STRINGS]);
    expect(tok.vocab.slice(4)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('applies minCount and the maxVocab cap (special tokens included)', () => {
    const tok = buildWordTokenizer(['b a a', 'c b a', 'd'], { ...opts, minCount: 2 });
    expect(tok.vocab.slice(4)).toEqual(['a', 'b']);
    const capped = buildWordTokenizer(['b a a', 'c b a', 'd'], { ...opts, maxVocab: 5 });
    expect(capped.vocabSize).toBe(5);
    expect(capped.vocab[4]).toBe('a');
  });

  it('encodes with padding, truncation, BOS/EOS (EOS kept when truncating) and decodes back', () => {
    const tok = buildWordTokenizer(['a red circle is above a blue square'], opts);
    const idOf = (w: string) => tok.vocab.indexOf(w);
    const text = tok.encode('a red circle', { length: 5 });
    expect(text.ids).toBeInstanceOf(Int32Array);
    expect(Array.from(text.ids)).toEqual([idOf('a'), idOf('red'), idOf('circle'), SPECIAL_TOKENS.PAD, SPECIAL_TOKENS.PAD]);
    expect(text.truncated).toBe(0);
    const target = tok.encode('a red circle is above', { length: 5, bosEos: true });
    expect(Array.from(target.ids)).toEqual([SPECIAL_TOKENS.BOS, idOf('a'), idOf('red'), idOf('circle'), SPECIAL_TOKENS.EOS]);
    expect(target.truncated).toBe(2);
    expect(tok.decode(target.ids)).toBe('a red circle');
    const unk = tok.encode('a green circle', { length: 4 });
    expect(Array.from(unk.ids)).toEqual([idOf('a'), SPECIAL_TOKENS.UNK, idOf('circle'), SPECIAL_TOKENS.PAD]);
    expect(unk.unknown).toBe(1);
  });

  it('round-trips through its JSON', () => {
    const tok = buildWordTokenizer(['x y z'], { ...opts, lowercase: false });
    const back = tokenizerFromJson(JSON.parse(JSON.stringify(tok.toJSON())));
    expect(back.vocab).toEqual(tok.vocab);
    expect(back.lowercase).toBe(false);
    expect(Array.from(back.encode('y x', { length: 3 }).ids)).toEqual(Array.from(tok.encode('y x', { length: 3 }).ids));
  });

  it('refuses a vocabulary no larger than the special tokens, naming the fix', () => {
    expect(() => buildWordTokenizer(['a b'], { ...opts, maxVocab: 4 })).toThrow(/maxVocab = 4 leaves no room.*special tokens/);
    expect(() => buildWordTokenizer(['a b'], { ...opts, maxVocab: 2 })).toThrow(DataError);
    expect(() => buildWordTokenizer(['a b'], { ...opts, minCount: 5 })).toThrow(/minCount = 5/);
  });
});

describe('WordPiece tokenizer', () => {
  const vocabTxt = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'the', 'un', '##aff', '##able', 'aff', 'able', ',', 'red'].join('\n');

  it('keeps our special ids and segments greedily, longest match first, with ## continuations', () => {
    const tok = loadWordPieceVocab(vocabTxt, true);
    expect(tok.vocab.slice(0, 4)).toEqual([...SPECIAL_TOKEN_STRINGS]);
    expect(tok.vocab).not.toContain('[CLS]');
    expect(tok.tokenize('The unaffable, red')).toEqual(['the', 'un', '##aff', '##able', ',', 'red']);
    expect(tok.tokenize('unknownword')).toEqual(['[UNK]']); // no complete segmentation → [UNK]
    expect(tok.tokenize('Thé')).toEqual(['the']); // accents stripped when lower-casing (BERT uncased)
    const enc = tok.encode('the unaffable', { length: 6, bosEos: true });
    expect(tok.decode(enc.ids)).toBe('the unaffable');
  });

  it('refuses a vocab.txt holding only special tokens', () => {
    expect(() => loadWordPieceVocab('[PAD]\n[UNK]\n[CLS]\n', true, 'my-vocab.txt')).toThrow(/my-vocab\.txt.*no token besides the special tokens/);
    expect(() => loadWordPieceVocab('', true)).toThrow(DataError);
  });
});

describe('a WordPiece vocab given to prepareData', () => {
  it('replaces the built vocabulary and is saved with the data', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'amad-wp-'));
    try {
      const vocab = path.join(dir, 'vocab.txt');
      writeFileSync(vocab, ['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'the', 'red', 'sh', '##ape', 'is', 'left', 'of', 'blue', 'one'].join('\n'));
      const summary = await prepareData(
        { format: 'synthetic', task: 'translation', seed: 1, train: 20, val: 5, test: 5, imageSize: 8, tokenizer: { wordpieceVocab: vocab } },
        path.join(dir, 'out'),
      );
      expect(summary.vocabSize).toBe(4 + 9);
      const ds = await openDataset(path.join(dir, 'out'));
      expect(ds.manifest.tokenizer.kind).toBe('wordpiece');
      expect(ds.tokenizer.tokenize('the red shape')).toEqual(['the', 'red', 'sh', '##ape']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('BERT basic tokenisation details', () => {
  it('drops format characters and splits CJK ideographs into single tokens', () => {
    const tok = loadWordPieceVocab(['[PAD]', '[UNK]', 'red', '中', '文'].join('\n'), true);
    expect(tok.basicTokenize('re\u200bd 中文!')).toEqual(['red', '中', '文', '!']);
  });
});
