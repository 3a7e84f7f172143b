/**
 * Caption text as the COCO caption evaluation expects it. pycocoevalcap runs every hypothesis
 * and reference through the Stanford PTB tokenizer (Java, `-lowerCase`) and then drops the
 * punctuation tokens '' ' `` ` -LRB- -RRB- -LCB- -RCB- . ? ! , : - -- ... ; before scoring with
 * `str.split()`. The scorers in this folder take already tokenised text; this helper produces
 * it from raw captions in JavaScript.
 *
 * It is an APPROXIMATION of the PTB tokenizer for ordinary caption English: lower-casing,
 * clitic splitting ("don't" → "do n't", "dog's" → "dog 's"), punctuation split off words and
 * dropped, brackets and quotes dropped, decimals ("3.5"), in-word hyphens ("t-shirt") and other
 * symbols ("&", "$", "%") kept. Unusual inputs (abbreviations like "u.s.", URLs, emoticons)
 * may tokenise differently from the Java tool; published numbers need the Java pipeline.
 */

/** Punctuation tokens pycocoevalcap's PTBTokenizer wrapper removes (brackets as their PTB escapes). */
const DROPPED = new Set(["''", "'", '``', '`', '.', '?', '!', ',', ':', '-', '--', '...', ';', '(', ')', '[', ']', '{', '}', '"']);

export function cocoCaptionTokenize(text: string): string {
  let s = text.toLowerCase().replace(/[\u2018\u2019]/g, "'").replace(/[\u201c\u201d]/g, '"');
  // Punctuation separated from words; a period or comma between digits stays ("3.5", "1,000").
  s = s.replace(/\.\.\./g, ' ... ').replace(/(?<!\d)[.,](?!\d)|[.,](?=\s|$)|[?!:;()[\]{}"]/g, (m) => ` ${m} `);
  // Quote marks at word edges (before clitic splitting creates tokens that start with one), stand-alone dashes.
  s = s.replace(/(^|\s)'+/g, ' ').replace(/'+(?=\s|$)/g, ' ').replace(/(^|\s)-+(?=\s|$)/g, ' ');
  // Clitics split off as PTB does: n't first, then 's 're 've 'll 'd 'm.
  s = s.replace(/([a-z])n't\b/g, "$1 n't").replace(/([a-z0-9])'(s|re|ve|ll|d|m)\b/g, "$1 '$2");
  return s
    .split(/\s+/)
    .filter((t) => t !== '' && !DROPPED.has(t))
    .join(' ');
}
