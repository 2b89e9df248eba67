/** `tsbpf gen types`: writes the module (embedded object by default, or a path beside it), usage errors and failures. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, runCli } from './support/cli.js';

const OBJ = join(REPO, '..', 'tsbpf', 'test', 'fixtures', 'obj', 'gen_types.bpf.o');
const dir = mkdtempSync(join(tmpdir(), 'tsbpf-gen-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

test('gen types -o: a module with the types, the wrapper class and the object embedded', async () => {
  const out = join(dir, 'embedded.ts');
  const r = await runCli(['gen', 'types', OBJ, '-o', out, '--type', 'ring_event']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^wrote .*embedded\.ts: GenTypesObject and \d+ types \(object embedded\)\n$/);
  const src = readFileSync(out, 'utf8');
  assert.match(src, /^import \{[^}]*\} from "tsbpf";$/m);
  assert.match(src, /export interface ring_event \{/);
  assert.match(src, /export class GenTypesObject \{/);
  assert.match(src, /const OBJECT_BASE64 = \[/);
  assert.doesNotMatch(src, /import\.meta/);
});

test('gen types --no-embed: the module reads the object from its path relative to the module', async () => {
  const out = join(dir, 'sub', 'beside.ts');
  const r1 = await runCli(['gen', 'types', OBJ, '-o', join(dir, 'missing-dir', 'x.ts')]);
  assert.equal(r1.code, 1, 'an unwritable output is a failure');
  mkdirSync(join(dir, 'sub'), { recursive: true });
  const r = await runCli(['gen', 'types', OBJ, '-o', out, '--no-embed', '--name', 'custom']);
  assert.equal(r.code, 0, r.stderr);
  const src = readFileSync(out, 'utf8');
  assert.match(src, /export class CustomObject \{/);
  const rel = /new URL\("([^"]+)", import\.meta\.url\)/.exec(src)?.[1];
  assert.ok(rel, 'a relative URL to the object');
  assert.ok(existsSync(new URL(rel, `file://${out}`)), `${rel} resolves to the object from the module`);
  assert.doesNotMatch(src, /OBJECT_BASE64/);
});

test('gen types to stdout, and --no-wrapper', async () => {
  const r = await runCli(['gen', 'types', OBJ, '--no-wrapper']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /export const gen_event = t\.struct\(/);
  assert.doesNotMatch(r.stdout, /class GenTypesObject/);
  assert.equal(r.stderr, '');
});

test('gen types failures: missing object (1), unknown --type (1), bad --type value and missing argument (2)', async () => {
  const missing = await runCli(['gen', 'types', join(dir, 'nope.bpf.o')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^error: tsbpf gen types: cannot read .*nope\.bpf\.o: ENOENT\n$/);
  const unknown = await runCli(['gen', 'types', OBJ, '--type', 'no_such_struct']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /no struct, union, enum or typedef named 'no_such_struct'/);
  const notElf = await runCli(['gen', 'types', join(REPO, 'package.json')]);
  assert.equal(notElf.code, 1);
  assert.equal(notElf.stderr.trimEnd().split('\n').length, 1, notElf.stderr);
  for (const args of [
    ['gen', 'types', OBJ, '--type', 'a-b'],
    ['gen', 'types'],
  ]) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
  }
});
