#!/usr/bin/env node
// Runs Twilio's SMS segment calculator (npm sms-segments-calculator) for tests/test_sms_text.py.
//
// stdin: JSON lines, each a string (the message) or {"text": string, "smart": bool}.
// stdout: one JSON line per input line, in order:
//   {"encoding": "GSM-7"|"UCS-2", "segments": n, "parts": [string, ...]}
// A line is answered as soon as it is read, so one process can serve a whole test session.
//
// The package is expected at tests/tools/node/node_modules/sms-segments-calculator, installed with
//   npm install --prefix tests/tools/node sms-segments-calculator@<version>
// `node sms_segments.js --version` prints the installed version.
'use strict';

const path = require('path');
const readline = require('readline');

const packageDir = path.join(__dirname, 'node', 'node_modules', 'sms-segments-calculator');
let SegmentedMessage;
try {
  ({ SegmentedMessage } = require(packageDir));
} catch (err) {
  process.stderr.write(
    `sms-segments-calculator not found at ${packageDir}: run ` +
      '`npm install --prefix tests/tools/node sms-segments-calculator@<version>` ' +
      `(${err.message})\n`,
  );
  process.exit(2);
}

if (process.argv.includes('--version')) {
  process.stdout.write(`${require(path.join(packageDir, 'package.json')).version}\n`);
  process.exit(0);
}

function describe(input) {
  const text = typeof input === 'string' ? input : input.text;
  const smart = typeof input === 'string' ? false : Boolean(input.smart);
  const message = new SegmentedMessage(text, 'auto', smart);
  return {
    encoding: message.encodingName,
    segments: message.segmentsCount,
    // A segment holds its User Data Header octets first, then EncodedChars (which have .raw).
    // Segment subclasses Array: copy it with Array.from, since its own filter()/map() build
    // new Segments (Symbol.species) that can come with header octets of their own.
    parts: message.segments.map((segment) =>
      Array.from(segment)
        .filter((item) => item.raw !== undefined)
        .map((item) => item.raw)
        .join(''),
    ),
  };
}

const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on('line', (line) => {
  if (line.trim() === '') {
    return;
  }
  process.stdout.write(`${JSON.stringify(describe(JSON.parse(line)))}\n`);
});
