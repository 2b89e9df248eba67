#!/usr/bin/env node
// The one list of test files, and how they run: `node scripts/run-tests.mjs [unit|kernel|all]`.
// unit: packages/tsbpf/test/unit (no root, no addon). kernel: the real-kernel library tests, the tools'
// tests and the root README test. TSBPF_TEST_TAP=<file> also writes a TAP report there (for
// scripts/check-skips.mjs); the console gets the usual spec output.
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SETS = {
  unit: ['packages/tsbpf/test/unit'],
  kernel: ['packages/tsbpf/test/kernel', 'packages/tools/test', 'test'],
};
const which = process.argv[2] ?? 'all';
const dirs = which === 'all' ? [...SETS.unit, ...SETS.kernel] : SETS[which];
if (!dirs) {
  console.error(`usage: run-tests.mjs [unit|kernel|all] (got ${which})`);
  process.exit(2);
}
const files = dirs.flatMap((d) =>
  readdirSync(join(root, d))
    .filter((f) => f.endsWith('.test.ts'))
    .sort()
    .map((f) => join(d, f)),
);
const reporters = [];
const tap = process.env.TSBPF_TEST_TAP;
if (tap) {
  mkdirSync(dirname(resolve(root, tap)), { recursive: true });
  reporters.push(
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tap}`,
  );
}
const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...reporters, ...files], {
  cwd: root,
  stdio: 'inherit',
});
// A CI timeout or Ctrl-C stops this runner: pass the signal on, so the test process (and through its
// own handlers, the programs, links and network namespaces it made) shuts down instead of running on
// orphaned. A second signal of the same kind while waiting is passed on too.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    child.kill(signal);
  });
}
child.on('exit', (code, signal) => {
  if (signal) {
    // Re-raise so our parent sees the same cause of death.
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
    return;
  }
  process.exit(code ?? 1);
});
