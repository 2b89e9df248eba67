#!/usr/bin/env node
// `npm run test:stress [-- N]`: the whole suite (unit + kernel) N times in a row (default 20, or
// TSBPF_STRESS_ROUNDS), reporting pass/fail per run and the failing tests, to find flakes.
// Never retries: a failure is a result. TAP reports stay in .ci/out/stress/ for inspection.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const rounds = Number(process.argv[2] ?? process.env.TSBPF_STRESS_ROUNDS ?? 20);
if (!Number.isInteger(rounds) || rounds < 1) {
  console.error(`usage: stress.mjs [rounds] (got ${process.argv[2]})`);
  process.exit(2);
}
const outDir = join(root, '.ci/out/stress');
mkdirSync(outDir, { recursive: true });
const results = [];
for (let i = 1; i <= rounds; i++) {
  const tap = join(outDir, `run-${i}.tap`);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [join(root, 'scripts/run-tests.mjs'), 'all'], {
    cwd: root,
    env: { ...process.env, TSBPF_TEST_TAP: tap },
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
  });
  const skips = spawnSync(process.execPath, [join(root, 'scripts/check-skips.mjs'), tap], {
    cwd: root,
    encoding: 'utf8',
  });
  let text = '';
  try {
    text = readFileSync(tap, 'utf8');
  } catch {
    /* runner died before writing */
  }
  const failed = [...text.matchAll(/^\s*not ok \d+ - (.*)$/gm)].map((m) => m[1]);
  const pass = Number(/^# pass (\d+)$/m.exec(text)?.[1] ?? 0);
  const ok = r.status === 0 && skips.status === 0;
  const secs = ((Date.now() - t0) / 1000).toFixed(0);
  results.push({ round: i, ok, status: r.status, pass, failed, skipCheck: skips.status === 0, seconds: Number(secs) });
  console.log(
    `run ${i}/${rounds}: ${ok ? 'PASS' : 'FAIL'} (${pass} passed, ${failed.length} failed, ${secs} s)` +
      (failed.length ? `\n  failed: ${failed.join('\n  failed: ')}` : '') +
      (skips.status === 0 ? '' : `\n  ${skips.stderr.trim()}`),
  );
  writeFileSync(join(outDir, 'summary.json'), JSON.stringify(results, null, 2));
}
const green = results.filter((r) => r.ok).length;
console.log(`stress: ${green} of ${rounds} runs green`);
process.exit(green === rounds ? 0 : 1);
