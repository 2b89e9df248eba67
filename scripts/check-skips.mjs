#!/usr/bin/env node
// Fails when a test skipped for a reason not expected on this machine kind.
// Usage: node scripts/check-skips.mjs <report.tap> [expected-skips.json]
// Every skip must come from test/support/features.ts (`# SKIP feature <name>: <why>`) and name a
// feature listed in test/expected-skips.json; anything else (a feature this machine should have, or a
// bare t.skip) is an error. A feature listed but never skipped is reported, not fatal (nothing needed it).
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const [tapFile, listFile = resolve(root, 'test/expected-skips.json')] = process.argv.slice(2);
if (!tapFile) {
  console.error('usage: check-skips.mjs <report.tap> [expected-skips.json]');
  process.exit(2);
}
const expected = JSON.parse(readFileSync(listFile, 'utf8')).features;
const SKIP = /^\s*ok \d+ - (.*?) # SKIP(?: (.*))?$/;
const FEATURE = /^feature ([\w-]+): /;
const bad = [];
const seen = new Map();
for (const line of readFileSync(tapFile, 'utf8').split('\n')) {
  const m = SKIP.exec(line);
  if (!m) continue;
  const [, name, reason = ''] = m;
  const f = FEATURE.exec(reason);
  if (!f)
    bad.push(
      `"${name}": skipped without a feature reason (${reason || 'none'}); skip through test/support/features.ts`,
    );
  else if (!(f[1] in expected))
    bad.push(`"${name}": skipped for feature ${f[1]}, which this machine kind is expected to have (${reason})`);
  else seen.set(f[1], (seen.get(f[1]) ?? 0) + 1);
}
for (const [f, n] of seen) console.log(`expected skip: ${f} (${n} test${n === 1 ? '' : 's'}): ${expected[f]}`);
for (const f of Object.keys(expected))
  if (!seen.has(f)) console.log(`note: feature ${f} is listed as expected to be missing, but no test skipped for it`);
if (bad.length) {
  console.error(`check-skips: ${bad.length} unexpected skip(s):\n  ${bad.join('\n  ')}`);
  process.exit(1);
}
console.log('check-skips: every skip is expected on this machine kind');
