/**
 * The official VQA answer normalisation (VQA v2 evaluation code, vqaEval.py:
 * `processPunctuation` then `processDigitArticle`), reproduced quirks included, because the
 * accuracy must equal the leaderboard's:
 * - punctuation: each listed mark is deleted if it touches a space in the ORIGINAL text or if
 *   the text contains a digit,digit pattern anywhere; otherwise it becomes a space;
 * - periods: the regex `(?!<=\d)(\.)(?!\d)` (its look-behind is mistyped as a look-ahead, so it
 *   only means "a period not followed by a digit") is passed `re.UNICODE` (= 32) as the COUNT
 *   argument of `re.sub`, so at most 32 such periods are removed;
 * - lower-case, split on whitespace, number words zero..ten (and "none") → digits, articles
 *   a/an/the dropped, then the contraction table (keys with capitals never match after
 *   lower-casing, as in the original).
 * Apostrophes and colons are not punctuation here ("don't" stays, "dont" → "don't").
 */

const PUNCTUATION = [';', '/', '[', ']', '"', '{', '}', '(', ')', '=', '+', '\\', '_', '-', '>', '<', '@', '`', ',', '?', '!'];
const COMMA_BETWEEN_DIGITS = /(\d)(,)(\d)/;
/** Python's `re.UNICODE` flag value, which vqaEval.py passes as `count`. */
const PERIOD_STRIP_MAX = 32;
const NUMBER_WORDS: Readonly<Record<string, string>> = {
  none: '0', zero: '0', one: '1', two: '2', three: '3', four: '4', five: '5',
  six: '6', seven: '7', eight: '8', nine: '9', ten: '10',
};
const ARTICLES = new Set(['a', 'an', 'the']);

/** The official table, unapostrophised form → standard spelling. */
const CONTRACTIONS: Readonly<Record<string, string>> = {
  aint: "ain't", arent: "aren't", cant: "can't", couldve: "could've", couldnt: "couldn't",
  "couldn'tve": "couldn't've", "couldnt've": "couldn't've", didnt: "didn't", doesnt: "doesn't", dont: "don't",
  hadnt: "hadn't", "hadnt've": "hadn't've", "hadn'tve": "hadn't've", hasnt: "hasn't", havent: "haven't",
  hed: "he'd", "hed've": "he'd've", "he'dve": "he'd've", hes: "he's", howd: "how'd", howll: "how'll",
  hows: "how's", "Id've": "I'd've", "I'dve": "I'd've", Im: "I'm", Ive: "I've", isnt: "isn't", itd: "it'd",
  "itd've": "it'd've", "it'dve": "it'd've", itll: "it'll", "let's": "let's", maam: "ma'am", mightnt: "mightn't",
  "mightnt've": "mightn't've", "mightn'tve": "mightn't've", mightve: "might've", mustnt: "mustn't",
  mustve: "must've", neednt: "needn't", notve: "not've", oclock: "o'clock", oughtnt: "oughtn't",
  "ow's'at": "'ow's'at", "'ows'at": "'ow's'at", "'ow'sat": "'ow's'at", shant: "shan't", "shed've": "she'd've",
  "she'dve": "she'd've", "she's": "she's", shouldve: "should've", shouldnt: "shouldn't",
  "shouldnt've": "shouldn't've", "shouldn'tve": "shouldn't've", "somebody'd": 'somebodyd',
  "somebodyd've": "somebody'd've", "somebody'dve": "somebody'd've", somebodyll: "somebody'll",
  somebodys: "somebody's", someoned: "someone'd", "someoned've": "someone'd've", "someone'dve": "someone'd've",
  someonell: "someone'll", someones: "someone's", somethingd: "something'd", "somethingd've": "something'd've",
  "something'dve": "something'd've", somethingll: "something'll", thats: "that's", thered: "there'd",
  "thered've": "there'd've", "there'dve": "there'd've", therere: "there're", theres: "there's", theyd: "they'd",
  "theyd've": "they'd've", "they'dve": "they'd've", theyll: "they'll", theyre: "they're", theyve: "they've",
  twas: "'twas", wasnt: "wasn't", "wed've": "we'd've", "we'dve": "we'd've", weve: "we've", werent: "weren't",
  whatll: "what'll", whatre: "what're", whats: "what's", whatve: "what've", whens: "when's", whered: "where'd",
  wheres: "where's", whereve: "where've", whod: "who'd", "whod've": "who'd've", "who'dve": "who'd've",
  wholl: "who'll", whos: "who's", whove: "who've", whyll: "why'll", whyre: "why're", whys: "why's",
  wont: "won't", wouldve: "would've", wouldnt: "wouldn't", "wouldnt've": "wouldn't've",
  "wouldn'tve": "wouldn't've", yall: "y'all", "yall'll": "y'all'll", "y'allll": "y'all'll",
  "yall'd've": "y'all'd've", "y'alld've": "y'all'd've", "y'all'dve": "y'all'd've", youd: "you'd",
  "youd've": "you'd've", "you'dve": "you'd've", youll: "you'll", youre: "you're", youve: "you've",
};

/** vqaEval.py `processPunctuation`. */
export function processPunctuation(text: string): string {
  const deleteAll = COMMA_BETWEEN_DIGITS.test(text);
  let out = text;
  for (const p of PUNCTUATION) {
    const touchesSpace = text.includes(p + ' ') || text.includes(' ' + p);
    out = out.split(p).join(touchesSpace || deleteAll ? '' : ' ');
  }
  let removed = 0;
  return out.replace(/\.(?!\d)/g, (m) => (removed++ < PERIOD_STRIP_MAX ? '' : m));
}

/** vqaEval.py `processDigitArticle`. */
export function processDigitArticle(text: string): string {
  const words: string[] = [];
  for (const raw of text.toLowerCase().split(/\s+/)) {
    if (raw === '') continue;
    const word = Object.prototype.hasOwnProperty.call(NUMBER_WORDS, raw) ? NUMBER_WORDS[raw]! : raw;
    if (!ARTICLES.has(word)) words.push(word);
  }
  return words.map((w) => (Object.prototype.hasOwnProperty.call(CONTRACTIONS, w) ? CONTRACTIONS[w]! : w)).join(' ');
}

/** The cleaning vqaEval.py applies to every answer first: newlines/tabs → space, trim. */
export function cleanWhitespace(answer: string): string {
  return answer.replace(/[\n\t]/g, ' ').trim();
}

/** Full official normalisation of one answer: whitespace clean-up, punctuation, digits/articles. */
export function normalizeVqaAnswer(answer: string): string {
  return processDigitArticle(processPunctuation(cleanWhitespace(answer)));
}
