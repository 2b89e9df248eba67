/**
 * USDT end to end, against libbpf's <bpf/usdt.bpf.h> (test/fixtures/c/usdt_args.bpf.c):
 * - a gcc-built <sys/sdt.h> program (test/fixtures/c/usdt_target.c) fires tsbpf_test:args with arguments in
 *   registers of 1/2/4/8 bytes (signed and unsigned), on the stack (memory operands) and as a constant: the BPF
 *   program reads each through bpf_usdt_arg and the values match the C program's, sign-extended or not as
 *   declared; bpf_usdt_cookie returns the attach cookie; the same probe auto-attaches from its SEC("usdt/...").
 * - semaphores: tsbpf_test:sema fires only while its .probes counter is non-zero, so hits prove the kernel bumped
 *   it (ref_ctr_offset), and the program itself sees the counter at 1 while attached and 0 after detach.
 * - libstdc++'s libstdcxx:throw, from SEC("usdt/libstdc++.so.6:libstdcxx:throw"), counts a C++ program's throws.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { BpfObject } from '../../src/kernel/object.js';
import { AttachError, UsdtLink, type BpfMap } from '../../src/index.js';
import { compileFixture, FIXTURE_OUT, FIXTURE_SRC } from '../fixtures/clang.js';
import { requireFeature } from '../support/features.js';

mkdirSync(FIXTURE_OUT, { recursive: true });
const TARGET = join(FIXTURE_OUT, 'usdt_target');
execFileSync('gcc', ['-O1', '-g', '-o', TARGET, join(FIXTURE_SRC, 'usdt_target.c')]);
const THROWER = join(FIXTURE_OUT, 'usdt_thrower');
execFileSync('g++', ['-O1', '-o', THROWER, '-x', 'c++', '-'], {
  input:
    '#include <cstdio>\n#include <stdexcept>\nint main() { char l[64]; int n = 0; while (fgets(l, sizeof l, stdin)) { try { throw std::runtime_error("x"); } catch (const std::exception &) { n++; } printf("caught %d\\n", n); fflush(stdout); } }\n',
});

const obj = BpfObject.open(compileFixture('usdt_args', [`-DUSDT_TARGET="${TARGET}"`]));
obj.load();
after(() => obj.close());
const seen = obj.map('seen') as BpfMap;

/** struct seen at slot i: args[8], cnt, argc, cookie, err (all s64). */
function slot(i: number): { args: bigint[]; cnt: number; argc: number; cookie: bigint; err: number } {
  const v = seen.lookup(i) as { args: bigint[]; cnt: bigint; argc: bigint; cookie: bigint; err: bigint };
  return {
    args: [...v.args].map(BigInt),
    cnt: Number(v.cnt),
    argc: Number(v.argc),
    cookie: BigInt(v.cookie),
    err: Number(v.err),
  };
}

/** A running target: send() makes it fire once and resolves with its "fired n sema s" line. */
function start(bin: string): {
  child: ChildProcessWithoutNullStreams;
  next(): Promise<string>;
  send(): Promise<string>;
  stop(): Promise<void>;
} {
  const child = spawn(bin, [], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines = createInterface({ input: child.stdout });
  const queue: ((l: string) => void)[] = [];
  const early: string[] = [];
  lines.on('line', (l) => {
    const w = queue.shift();
    if (w) w(l);
    else early.push(l);
  });
  const next = () =>
    new Promise<string>((res) => {
      const l = early.shift();
      if (l !== undefined) res(l);
      else queue.push(res);
    });
  return {
    child,
    next,
    send: () => {
      child.stdin.write('go\n');
      return next();
    },
    stop: async () => {
      child.stdin.end();
      if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
    },
  };
}

async function ready(bin: string): Promise<ReturnType<typeof start>> {
  const t = start(bin);
  if (bin === TARGET) assert.equal(await t.next(), 'ready');
  return t;
}

// The values usdt_target.c passes: fire(-5, 60000, -100000, 0x123456789abcdef, n), local -77, big -1234567890123, 42.
const EXPECTED = (n: number) => [-5n, 60000n, -100000n, 0x123456789abcdefn, -77n, -1234567890123n, 42n, BigInt(n)];

test('tsbpf_test:args: every argument (registers, stack memory, constant; 1-8 bytes, signed and not) reads back exactly', async (t) => {
  if (!requireFeature(t, 'uprobes')) return;
  const target = await ready(TARGET);
  try {
    using link = obj.programs.on_args!.program.attachUsdt({
      binary: TARGET,
      provider: 'tsbpf_test',
      name: 'args',
      pid: target.child.pid,
      cookie: 0xfeedn,
    });
    assert.ok(link instanceof UsdtLink);
    assert.equal(link.sites.length, 1);
    assert.equal(link.size, 1);
    for (let n = 1; n <= 3; n++) assert.match(await target.send(), new RegExp(`^fired ${n} `));
    const s = slot(0);
    assert.equal(s.err, 0);
    assert.equal(s.cnt, 3);
    assert.equal(s.argc, 8);
    assert.equal(s.cookie, 0xfeedn);
    assert.deepEqual(s.args, EXPECTED(3));
    link.close();
    await target.send();
    assert.equal(slot(0).cnt, 3, 'no hits after close()');
  } finally {
    await target.stop();
  }
});

test('auto-attach from SEC("usdt/<path>:tsbpf_test:args") with BPF_USDT arguments', async (t) => {
  if (!requireFeature(t, 'uprobes')) return;
  const target = await ready(TARGET);
  try {
    const p = obj.programs.on_args_auto!;
    assert.equal(p.autoAttachable, true);
    const link = p.attach({ pid: target.child.pid });
    await target.send();
    await target.send();
    const s = slot(1);
    assert.equal(s.cnt, 2);
    assert.deepEqual(
      s.args,
      EXPECTED(2).map((v, i) => (i === 0 ? BigInt.asIntN(8, v) : v)),
    );
    link.close();
  } finally {
    await target.stop();
  }
});

test('semaphores: the kernel bumps the .probes counter while attached, so the gated probe fires', async (t) => {
  if (!requireFeature(t, 'uprobes')) return;
  const target = await ready(TARGET);
  try {
    assert.equal(await target.send(), 'fired 1 sema 0');
    const link = obj.programs.on_sema!.program.attachUsdt({
      binary: TARGET,
      provider: 'tsbpf_test',
      name: 'sema',
      pid: target.child.pid,
    });
    assert.notEqual(link.sites[0]!.semaphoreOffset, 0);
    assert.equal(await target.send(), 'fired 2 sema 1');
    assert.equal(await target.send(), 'fired 3 sema 1');
    const s = slot(2);
    assert.equal(s.cnt, 2);
    assert.equal(s.args[0], 3n);
    link.close();
    assert.equal(await target.send(), 'fired 4 sema 0');
  } finally {
    await target.stop();
  }
});

test("libstdcxx:throw in libstdc++ (auto-attached, system-wide) counts a C++ program's throws", async (t) => {
  if (!requireFeature(t, 'uprobes')) return;
  const before = slot(3).cnt;
  const link = obj.programs.on_throw!.attach();
  const thrower = start(THROWER);
  try {
    for (let n = 1; n <= 4; n++) assert.equal(await thrower.send(), `caught ${n}`);
  } finally {
    await thrower.stop();
    link.close();
  }
  const s = slot(3);
  // Other processes on the machine may throw too while attached: at least ours.
  assert.ok(s.cnt - before >= 4, `${s.cnt - before} throws seen`);
  assert.equal(s.argc, 2);
  assert.notEqual(s.args[1], 0n, 'type_info pointer');
});

test('spec ids are reused after close; bad targets are clear errors', async (t) => {
  if (!requireFeature(t, 'uprobes')) return;
  const prog = obj.programs.on_args!.program;
  for (let i = 0; i < 300; i++) prog.attachUsdt({ binary: TARGET, provider: 'tsbpf_test', name: 'args' }).close(); // > 256 specs: ids come back
  assert.throws(
    () => prog.attachUsdt({ binary: TARGET, provider: 'tsbpf_test', name: 'nope' }),
    (e: unknown) => e instanceof AttachError && e.code === 'ENOENT',
  );
  assert.throws(
    () => prog.attachUsdt({ binary: '/nonexistent/bin', provider: 'a', name: 'b' }),
    (e: unknown) => e instanceof AttachError && e.code === 'ENOENT',
  );
  assert.throws(() => prog.attachUsdt({ binary: TARGET, provider: '', name: 'b' }), /provider/);
  const other = BpfObject.open(compileFixture('iter_task'));
  try {
    for (const p of Object.values(other.programs)) p.autoload = p.name === 'dump_task';
    other.load();
    assert.throws(
      () => other.programs.dump_task!.program.attachUsdt({ binary: TARGET, provider: 'tsbpf_test', name: 'args' }),
      /needs a kprobe program/,
    );
  } finally {
    other.close();
  }
});
