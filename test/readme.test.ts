// The README's TypeScript examples run as written, and print what their comments say.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);

test('README has runnable examples', () => {
  assert.ok(blocks.length >= 3, `found ${blocks.length} ts blocks`);
});

// Files and build steps the examples use: ```c file=NAME blocks are written to the examples' directory, then the
// lines of ```sh run blocks run there in order (`npx tsbpf` is this checkout's CLI, built in packages/tools/dist).
const files = [...readme.matchAll(/```\w+ file=(\S+)\n([\s\S]*?)```/g)].map((m) => ({ name: m[1]!, text: m[2]! }));
const steps = [...readme.matchAll(/```sh run\n([\s\S]*?)```/g)].flatMap((m) =>
  m[1]!.split('\n').filter((l) => l.trim() && !l.startsWith('#')),
);
if (steps.length > 0) {
  test('README build steps run: C → clang → tsbpf gen types', () => {
    const dir = join(root, 'build', 'readme');
    mkdirSync(dir, { recursive: true });
    for (const f of files) writeFileSync(join(dir, f.name), f.text);
    const cli = `${JSON.stringify(process.execPath)} ${JSON.stringify(join(root, 'packages', 'tools', 'dist', 'cli', 'main.js'))}`;
    for (const step of steps)
      execFileSync('sh', ['-c', step.replace(/^npx tsbpf /, `${cli} `)], {
        cwd: dir,
        encoding: 'utf8',
        timeout: 60_000,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
  });
}

blocks.forEach((code, i) => {
  const title =
    code
      .split('\n')
      .find((l) => l.startsWith('//'))
      ?.slice(2)
      .trim() ?? `block ${i + 1}`;
  test(`README example ${i + 1} runs: ${title}`, () => {
    const expected = code
      .split('\n')
      .filter((l) => /console\.log\(/.test(l) && /\/\/ /.test(l))
      .map((l) => l.split('// ').at(-1)!.trim());
    // Inside the package, so `import ... from 'tsbpf'` resolves to this package (built dist/).
    const dir = join(root, 'build', 'readme');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `example-${i + 1}.ts`);
    writeFileSync(file, code);
    const out = execFileSync(process.execPath, ['--import', 'tsx', file], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
    });
    const lines = out.trim().split('\n').filter(Boolean);
    assert.equal(lines.length, expected.length, `output:\n${out}`);
    expected.forEach((e, j) => {
      const want = e;
      assert.equal(lines[j], want, `line ${j + 1} of example ${i + 1}`);
    });
  });
});
