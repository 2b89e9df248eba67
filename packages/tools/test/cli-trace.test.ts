/**
 * `tsbpf trace exec|syscalls|open` as child processes on the real kernel, with workloads the test
 * makes itself: execs of a copy of /bin/true under a unique name, and a small C program that makes
 * an exact set of syscalls once told to go (after the tracer has attached).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, startCli } from './support/cli.js';

let dir = '';
let workload = '';
const tag = Math.random().toString(36).slice(2, 8);

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsbpf-cli-'));
  // comm is the file name (<= 15 bytes): unique per run so other activity never matches.
  workload = join(dir, `tsw${tag}`);
  execFileSync('clang', ['-O2', '-o', workload, join(REPO, 'test', 'fixtures', 'syscall-workload.c')]);
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Spawns the workload (blocked on stdin); `go()` releases it; resolves its exit status. */
function startWorkload(getppids: number, opens: number, sleeps: number, path: string) {
  const child = spawn(workload, [String(getppids), String(opens), String(sleeps), path], {
    stdio: ['pipe', 'ignore', 'inherit'],
  });
  const exited = new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
  return { child, exited, go: () => child.stdin!.end('go\n') };
}

async function execRun(args: string[], count: number) {
  const name = `tsx${tag}${args.includes('copy') ? 'c' : args.includes('filtered') ? 'f' : 'z'}`;
  const bin = join(dir, name);
  copyFileSync('/bin/true', bin);
  const run = startCli(['trace', 'exec', '--json', '--duration', '3', ...args]);
  await run.waitForStderr(/Tracing exec/);
  const pids: number[] = [];
  for (let i = 0; i < count; i++) pids.push(spawnSync(bin, [], { stdio: 'ignore' }).pid!);
  assert.equal(await run.exited, 0, run.stderr);
  const lines = run.json();
  return {
    name,
    pids,
    events: lines.filter((l) => l.type === 'exec' && l.comm === name),
    summary: lines.at(-1),
    lines,
  };
}

test('trace exec --mode zerocopy reports every exec with pid, uid, comm; summary with latency', async () => {
  const { name, pids, events, summary, lines } = await execRun([], 5);
  assert.deepEqual(events.map((e) => e.pid).sort(), [...pids].sort());
  for (const e of events) {
    assert.equal(e.uid, 0);
    assert.equal(e.comm, name);
    assert.ok(e.timestampNs > 0 && e.latencyNs > 0 && e.latencyNs < 5e9, `latency ${e.latencyNs}`);
    assert.ok(!Number.isNaN(Date.parse(e.time)));
  }
  assert.equal(summary.type, 'summary');
  assert.equal(summary.mode, 'zerocopy');
  assert.equal(summary.events, lines.filter((l) => l.type === 'exec').length);
  assert.equal(summary.dropped, 0);
  assert.equal(summary.reason, 'duration');
  assert.ok(summary.durationS >= 2.9 && summary.durationS < 4, String(summary.durationS));
  assert.ok(
    summary.latencyNs.p50 > 0 &&
      summary.latencyNs.p99 >= summary.latencyNs.p50 &&
      summary.latencyNs.max >= summary.latencyNs.p99,
  );
});

test('trace exec --mode copy delivers the same events through ringbuf_output', async () => {
  const { pids, events, summary } = await execRun(['--mode', 'copy'], 3);
  assert.deepEqual(events.map((e) => e.pid).sort(), [...pids].sort());
  assert.equal(summary.mode, 'copy');
});

test('trace exec --mode filtered discards pids below --min-pid in the kernel', async () => {
  const all = await execRun(['--mode', 'filtered', '--min-pid', '1'], 3);
  assert.deepEqual(all.events.map((e) => e.pid).sort(), [...all.pids].sort());
  const none = await execRun(['--mode', 'filtered', '--min-pid', String(0x7fffffff)], 3);
  assert.equal(none.events.length, 0);
  assert.equal(none.summary.events, 0);
});

test('trace exec --filter prints only matching events and counts the rest as filtered out', async () => {
  const keep = join(dir, `tsk${tag}`),
    drop = join(dir, `tsd${tag}`);
  copyFileSync('/bin/true', keep);
  copyFileSync('/bin/true', drop);
  const run = startCli([
    'trace',
    'exec',
    '--json',
    '--duration',
    '3',
    '--filter',
    `comm == "tsk${tag}" || (comm ~ "^tsd" && pid < 0)`,
  ]);
  await run.waitForStderr(/Tracing exec/);
  const kept: number[] = [];
  for (let i = 0; i < 3; i++) {
    kept.push(spawnSync(keep, [], { stdio: 'ignore' }).pid!);
    spawnSync(drop, [], { stdio: 'ignore' });
  }
  assert.equal(await run.exited, 0, run.stderr);
  const lines = run.json();
  const execs = lines.filter((l) => l.type === 'exec');
  assert.deepEqual(execs.map((e) => e.pid).sort(), [...kept].sort());
  assert.ok(execs.every((e) => e.comm === `tsk${tag}`));
  const summary = lines.at(-1);
  assert.equal(summary.type, 'summary');
  assert.ok(summary.filteredOut >= 3, `filteredOut ${summary.filteredOut}`);
  assert.equal(summary.events, execs.length + summary.filteredOut);
});

const missing = () => join(dir, `no-such-file-${tag}`);

test("trace syscalls --comm reports exactly the workload's syscalls with names, durations, returns", async () => {
  const w = startWorkload(3, 2, 1, missing());
  const run = startCli(['trace', 'syscalls', '--comm', `tsw${tag}`, '--json', '--duration', '3']);
  await run.waitForStderr(/Tracing syscalls/);
  w.go();
  assert.equal(await w.exited, 0);
  assert.equal(await run.exited, 0, run.stderr);
  const lines = run.json();
  const events = lines.filter((l) => l.type === 'syscall');
  assert.deepEqual(
    events.map((e) => e.syscall),
    ['getppid', 'getppid', 'getppid', 'openat', 'openat', 'nanosleep'],
  );
  for (const e of events) {
    assert.equal(e.pid, w.child.pid);
    assert.equal(e.tid, w.child.pid);
    assert.equal(e.comm, `tsw${tag}`);
  }
  assert.deepEqual(
    events.slice(0, 3).map((e) => e.ret),
    [process.pid, process.pid, process.pid],
  );
  assert.deepEqual(
    events.slice(3, 5).map((e) => [e.nr, e.ret, e.error]),
    [
      [257, -2, 'ENOENT'],
      [257, -2, 'ENOENT'],
    ],
  );
  assert.ok(events[5].durationNs >= 20e6, `nanosleep took ${events[5].durationNs} ns`);
  const summary = lines.at(-1);
  assert.equal(summary.type, 'summary');
  assert.equal(summary.buffer, 'ring');
  assert.equal(summary.events, 6);
  assert.equal(summary.dropped, 0);
});

test('trace syscalls --overload sample: the gate is in the tracer and, below the threshold, sends everything', async () => {
  const w = startWorkload(3, 2, 1, missing());
  const run = startCli([
    'trace',
    'syscalls',
    '--comm',
    `tsw${tag}`,
    '--overload',
    'sample',
    '--json',
    '--duration',
    '3',
  ]);
  await run.waitForStderr(/Tracing syscalls/);
  w.go();
  assert.equal(await w.exited, 0);
  assert.equal(await run.exited, 0, run.stderr);
  const lines = run.json();
  assert.deepEqual(
    lines.filter((l) => l.type === 'syscall').map((e) => e.syscall),
    ['getppid', 'getppid', 'getppid', 'openat', 'openat', 'nanosleep'],
  );
  const summary = lines.at(-1);
  assert.deepEqual(
    [summary.overload, summary.sampledOut, summary.keepOneIn, summary.dropped, summary.events],
    ['sample', 0, 1, 0, 6],
  );
  const perf = startCli(['trace', 'syscalls', '--overload', 'sample', '--buffer', 'perf', '--duration', '1']);
  assert.equal(await perf.exited, 2);
  assert.match(perf.stderr, /--overload sample needs --buffer ring/);
});

test('trace syscalls --pid --min-duration-us filters in the kernel', async () => {
  const w = startWorkload(5, 5, 2, missing());
  const run = startCli([
    'trace',
    'syscalls',
    '--pid',
    String(w.child.pid),
    '--min-duration-us',
    '10000',
    '--json',
    '--duration',
    '3',
  ]);
  await run.waitForStderr(/Tracing syscalls/);
  w.go();
  assert.equal(await w.exited, 0);
  assert.equal(await run.exited, 0, run.stderr);
  const events = run.json().filter((l) => l.type === 'syscall');
  assert.deepEqual(
    events.map((e) => e.syscall),
    ['nanosleep', 'nanosleep'],
  );
});

test('trace syscalls --summary counts per syscall in the kernel (strace -c)', async () => {
  const w = startWorkload(4, 3, 1, missing());
  const run = startCli(['trace', 'syscalls', '--comm', `tsw${tag}`, '--summary', '--json', '--duration', '3']);
  await run.waitForStderr(/Tracing syscalls/);
  w.go();
  assert.equal(await w.exited, 0);
  assert.equal(await run.exited, 0, run.stderr);
  const [s] = run.json();
  assert.equal(s.type, 'syscall_summary');
  const by = Object.fromEntries(s.rows.map((r: { syscall: string }) => [r.syscall, r]));
  assert.deepEqual(Object.keys(by).sort(), ['getppid', 'nanosleep', 'openat']);
  assert.equal(by.getppid.count, 4);
  assert.equal(by.getppid.errors, 0);
  assert.equal(by.openat.count, 3);
  assert.equal(by.openat.errors, 3);
  assert.equal(by.nanosleep.count, 1);
  assert.ok(by.nanosleep.maxNs >= 20e6 && by.nanosleep.totalNs === by.nanosleep.maxNs);
  assert.equal(s.total.count, 8);
  assert.equal(s.rows[0].syscall, 'nanosleep'); // sorted by total time
});

test('trace open captures filenames in exact-size records', async () => {
  const path = join(dir, `open-me-${tag}.txt`);
  const w = startWorkload(0, 2, 0, path);
  const run = startCli(['trace', 'open', '--comm', `tsw${tag}`, '--json', '--duration', '3']);
  await run.waitForStderr(/Tracing openat/);
  w.go();
  assert.equal(await w.exited, 0);
  assert.equal(await run.exited, 0, run.stderr);
  const lines = run.json();
  const events = lines.filter((l) => l.type === 'open');
  assert.equal(events.length, 2);
  for (const e of events) {
    assert.equal(e.filename, path);
    assert.equal(e.pid, w.child.pid);
    assert.equal(e.recordBytes, 40 + Buffer.byteLength(path) + 1);
    assert.equal(e.flagsText, 'O_RDONLY|O_CLOEXEC');
  }
  assert.equal(lines.at(-1).events, 2);
});

test('trace syscalls --buffer perf runs the same tracer over a perf buffer', async () => {
  const w = startWorkload(2, 1, 1, missing());
  const run = startCli(['trace', 'syscalls', '--comm', `tsw${tag}`, '--buffer', 'perf', '--json', '--duration', '3']);
  await run.waitForStderr(/Tracing syscalls/);
  w.go();
  assert.equal(await w.exited, 0);
  assert.equal(await run.exited, 0, run.stderr);
  const lines = run.json();
  const events = lines.filter((l) => l.type === 'syscall');
  assert.deepEqual(
    events.map((e) => [e.syscall, e.ret]),
    [
      ['getppid', process.pid],
      ['getppid', process.pid],
      ['openat', -2],
      ['nanosleep', 0],
    ],
  );
  const summary = lines.at(-1);
  assert.equal(summary.buffer, 'perf');
  assert.equal(summary.events, 4);
  assert.equal(summary.dropped, 0);
  assert.ok(summary.latencyNs.p50 > 0);
});

test('SIGINT stops a tracer cleanly: summary printed, exit 0, nothing left attached', async () => {
  const run = startCli(['trace', 'exec', '--json']);
  await run.waitForStderr(/Tracing exec/);
  run.child.kill('SIGINT');
  assert.equal(await run.exited, 0, run.stderr);
  const summary = run.json().at(-1);
  assert.equal(summary.type, 'summary');
  assert.equal(summary.reason, 'SIGINT');
  const term = startCli(['trace', 'syscalls', '--comm', 'nobody-here', '--json']);
  await term.waitForStderr(/Tracing syscalls/);
  term.child.kill('SIGTERM');
  assert.equal(await term.exited, 0, term.stderr);
  assert.equal(term.json().at(-1).reason, 'SIGTERM');
  // No tsbpf tracepoint program of these runs remains loaded.
  const progs = execFileSync('bpftool', ['prog', 'show']).toString();
  assert.doesNotMatch(progs, new RegExp(`pids node\\(${run.child.pid}\\)|pids node\\(${term.child.pid}\\)`));
});
