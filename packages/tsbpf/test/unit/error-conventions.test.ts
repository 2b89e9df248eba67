// The error conventions, checked over the library's source: every argument error (TypeError or
// RangeError thrown by tsbpf) starts `tsbpf:`, and no throw site reports a missing kernel feature other
// than through NotSupportedError (AttachError has no "not supported" code any more).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const src = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Each `new TypeError(` / `new RangeError(` with what follows it, as file:line. */
function argumentErrors(): { where: string; text: string }[] {
  const out: { where: string; text: string }[] = [];
  for (const file of sources(src)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/new (?:Type|Range)Error\(\s*([^\n]{0,40})/g)) {
      const line = text.slice(0, m.index).split('\n').length;
      out.push({ where: `${relative(src, file)}:${line}`, text: m[1]! });
    }
  }
  return out;
}

test('error conventions: argument errors start with "tsbpf:"', () => {
  const all = argumentErrors();
  assert.ok(all.length > 20, `found ${all.length} argument errors: the scan works`);
  const bad = all.filter((e) => !/^[`'"]tsbpf: /.test(e.text)).map((e) => `${e.where}: ${e.text}`);
  assert.deepEqual(bad, []);
});

test('error conventions: a missing kernel feature is never an AttachError', () => {
  const bad: string[] = [];
  for (const file of sources(src)) {
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (/new AttachError\(\s*'E?NOTSUPP?'/.test(line) || /new AttachError\(\s*'EOPNOTSUPP'/.test(line))
          bad.push(`${relative(src, file)}:${i + 1}`);
      });
  }
  assert.deepEqual(bad, []);
});
