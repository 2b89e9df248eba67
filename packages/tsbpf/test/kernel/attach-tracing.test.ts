import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, openSync, closeSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  asm,
  AttachError,
  BpfMap,
  Link,
  Program,
  R0,
  R1,
  R2,
  R3,
  R6,
  R10,
  t,
  kernelFunction,
  onlineCpus,
  openLinks,
  closeAllLinks,
} from '../../src/index.js';
import { hasFeature, isNotSupported } from '../support/features.js';
import { counter, keyFromCtx, onlyComm, onlyPid, onlyTid } from '../support/attach-progs.js';

const dir = mkdtempSync(join(tmpdir(), 'tsbpf-attach-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const SYS_GETPPID = 110;

/** After close: neither the link nor the program is left in the kernel. */
function assertGone(linkIds: number[], progIds: number[]): void {
  const links = new Set(Link.ids());
  for (const id of linkIds) assert.ok(!links.has(id), `link ${id} still exists`);
  const progs = new Set(Link.programIds());
  for (const id of progIds) assert.ok(!progs.has(id), `program ${id} still exists`);
}

test('tracepoint sched:sched_process_exec counts exactly the processes the test spawns', () => {
  const comm = `tsbx${process.pid}`.slice(0, 15);
  const exe = join(dir, comm);
  copyFileSync('/bin/true', exe);
  chmodSync(exe, 0o755);
  const counts = BpfMap.create({ type: 'array', key: t.u32, value: t.u64, maxEntries: 1 });
  const prog = Program.load({
    type: 'tracepoint',
    name: 'exec_count',
    instructions: counter(counts, { filter: onlyComm(comm) }),
  });
  const link = prog.attachTracepoint('sched', 'sched_process_exec');
  const info = link.info();
  assert.equal(info.type, 'perf_event');
  assert.equal(info.perfEventType, 'tracepoint');
  assert.equal(info.tracepoint, 'sched_process_exec');
  assert.equal(info.programId, prog.info().id);
  assert.ok(openLinks().includes(link));
  for (let i = 0; i < 5; i++) assert.equal(spawnSync(exe).status, 0);
  for (let i = 0; i < 3; i++) spawnSync('/bin/true'); // other comm: not counted
  assert.equal(counts.lookup(0), 5n);
  const ids = [info.id];
  const progId = prog.info().id;
  link.close();
  link.close();
  assert.ok(!openLinks().includes(link));
  assert.throws(() => link.info(), /closed/);
  spawnSync(exe);
  assert.equal(counts.lookup(0), 5n, 'no events after close');
  prog.close();
  counts.close();
  assertGone(ids, [progId]);
});

test('raw_syscalls:sys_enter as tracepoint, raw tracepoint and tp_btf sees our getppid calls', () => {
  using counts = BpfMap.create({ type: 'array', key: t.u32, value: t.u64, maxEntries: 512 });
  using rawCounts = BpfMap.create({ type: 'array', key: t.u32, value: t.u64, maxEntries: 512 });
  using btfCounts = BpfMap.create({ type: 'array', key: t.u32, value: t.u64, maxEntries: 512 });
  // All three contexts carry the syscall number at offset 8.
  const body = (m: BpfMap) => counter(m, { filter: onlyPid(process.pid), key: keyFromCtx(8, 512) });
  using tp = Program.load({ type: 'tracepoint', instructions: body(counts) });
  using raw = Program.load({ type: 'raw_tracepoint', instructions: body(rawCounts) });
  using btf = Program.loadTracing({ kind: 'tp_btf', target: 'sys_enter', instructions: body(btfCounts) });
  using _l1 = tp.attachTracepoint('raw_syscalls', 'sys_enter');
  using l2 = raw.attachRawTracepoint('sys_enter');
  using l3 = btf.attachTracing();
  assert.equal(l2.info().type, 'raw_tracepoint');
  assert.equal(l2.info().tracepoint, 'sys_enter');
  // tp_btf attaches through the kernel's raw tracepoint link.
  assert.equal(l3.info().type, 'raw_tracepoint');
  assert.equal(l3.info().tracepoint, 'sys_enter');
  const before = [counts, rawCounts, btfCounts].map((m) => m.lookup(SYS_GETPPID) as bigint);
  let ppid = 0;
  for (let i = 0; i < 20; i++) ppid += process.ppid;
  assert.ok(ppid > 0);
  const after = [counts, rawCounts, btfCounts].map((m) => m.lookup(SYS_GETPPID) as bigint);
  assert.deepEqual(
    after.map((a, i) => a - before[i]!),
    [20n, 20n, 20n],
  );
});

test('fentry counts calls of do_sys_openat2 and fexit sees its return value (or a clear refusal where the kernel has no trampolines)', () => {
  const target = kernelFunction('do_sys_openat2');
  assert.deepEqual(target.params, ['dfd', 'filename', 'how']);
  if (!Program.supportsTrampolines()) {
    // Some kernels refuse fentry/fexit even to root (libbpf/bpftool get the same EPERM): the clear refusal is the branch.
    assert.throws(
      () =>
        Program.loadTracing({ kind: 'fentry', target: 'do_sys_openat2', instructions: [asm.mov64(R0, 0), asm.exit()] }),
      (e: unknown) => isNotSupported(e) && /refuses BPF trampoline programs/.test((e as Error).message),
    );
    return;
  }
  using counts = BpfMap.create({ type: 'array', key: t.u32, value: t.u64, maxEntries: 2 });
  using entry = Program.loadTracing({
    kind: 'fentry',
    target: 'do_sys_openat2',
    name: 'open_entry',
    instructions: counter(counts, { filter: onlyTid(process.pid) }),
  });
  // fexit: the return value follows the parameters, ctx[params.length]; keep the last one in slot 1.
  using exit = Program.loadTracing({
    kind: 'fexit',
    target: 'do_sys_openat2',
    name: 'open_exit',
    instructions: [
      asm.mov64(R6, R1),
      onlyTid(process.pid),
      asm.ldxdw(R6, R6, 8 * target.params.length),
      asm.stw(R10, -4, 1),
      asm.ldMapFd(R1, counts),
      asm.mov64(R2, R10),
      asm.add64(R2, -4),
      asm.call('map_lookup_elem'),
      asm.jeq(R0, 0, 'out'),
      asm.stxdw(R0, 0, R6),
      asm.label('out'),
      asm.mov64(R0, 0),
      asm.exit(),
    ],
  });
  using l1 = entry.attachTracing();
  using l2 = exit.attachTracing();
  const info = l2.info();
  assert.equal(info.type, 'tracing');
  assert.equal(info.attachType, 'trace_fexit');
  assert.equal(info.targetBtfId, target.btfId);
  for (let i = 0; i < 7; i++) closeSync(openSync('/proc/self/stat', 'r'));
  assert.equal(counts.lookup(0), 7n);
  assert.throws(() => openSync(join(dir, 'missing'), 'r'), /ENOENT/);
  assert.equal(BigInt.asIntN(64, counts.lookup(1) as bigint), -2n, 'fexit saw -ENOENT');
  const fd = openSync('/proc/self/stat', 'r');
  closeSync(fd);
  assert.equal(counts.lookup(1), BigInt(fd), 'fexit saw the new fd');
  assert.equal(counts.lookup(0), 9n);
  const ids = [l1.info().id, info.id];
  const progs = [entry.info().id, exit.info().id];
  l1.close();
  l2.close();
  entry.close();
  exit.close();
  assertGone(ids, progs);
});

test('raw_syscalls:sys_exit sees openat return values (the fexit analogue that works everywhere)', () => {
  using rets = BpfMap.create({ type: 'array', key: t.u32, value: t.u64, maxEntries: 2 });
  // raw tracepoint sys_exit: args[0] = pt_regs *, args[1] = return value; pt_regs->orig_ax (offset 120) is the syscall number.
  using prog = Program.load({
    type: 'raw_tracepoint',
    name: 'exit_ret',
    instructions: [
      asm.mov64(R6, R1),
      onlyTid(process.pid),
      asm.ldxdw(R3, R6, 0),
      asm.mov64(R1, R10),
      asm.add64(R1, -16),
      asm.mov64(R2, 8),
      asm.add64(R3, 120),
      asm.call('probe_read_kernel'),
      asm.ldxdw(R1, R10, -16),
      asm.jne(R1, 257, 'out'),
      asm.ldxdw(R6, R6, 8),
      asm.stw(R10, -4, 0),
      asm.ldMapFd(R1, rets),
      asm.mov64(R2, R10),
      asm.add64(R2, -4),
      asm.call('map_lookup_elem'),
      asm.jeq(R0, 0, 'out'),
      asm.stxdw(R0, 0, R6),
      asm.label('out'),
      asm.mov64(R0, 0),
      asm.exit(),
    ],
  });
  using _link = prog.attachRawTracepoint('sys_exit');
  assert.throws(() => openSync(join(dir, 'missing'), 'r'), /ENOENT/);
  assert.equal(BigInt.asIntN(64, rets.lookup(0) as bigint), -2n, 'saw -ENOENT');
  const fd = openSync('/proc/self/stat', 'r');
  closeSync(fd);
  assert.equal(rets.lookup(0), BigInt(fd), 'saw the new fd');
});

test('perf_event program samples cpu-clock on every CPU', async () => {
  using counts = BpfMap.create({ type: 'array', key: t.u32, value: t.u64, maxEntries: 1 });
  using prog = Program.load({ type: 'perf_event', instructions: counter(counts) });
  using link = prog.attachPerfEvent({ event: 'cpu-clock', frequency: 1000 });
  assert.equal(link.size, onlineCpus().length);
  const infos = link.infos();
  assert.equal(infos[0]!.perfEventType, 'event');
  assert.equal(typeof infos[0]!.perfType, 'number'); // 1, or cpu_clock's own PMU type on 6.1x
  assert.equal(infos[0]!.config, 0n);
  const end = Date.now() + 200;
  while (Date.now() < end) {
    /* keep a CPU busy */
  }
  const n = counts.lookup(0) as bigint;
  assert.ok(n >= 40n, `expected samples at 1000 Hz over 200 ms, got ${n}`);
  link.close();
  const stopped = counts.lookup(0) as bigint;
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(counts.lookup(0), stopped, 'no samples after close');
});

test('closeAllLinks closes every open link; closeOnExit re-raises the signal after cleanup', async () => {
  using counts = BpfMap.create({ type: 'array', key: t.u32, value: t.u64, maxEntries: 1 });
  using prog = Program.load({ type: 'raw_tracepoint', instructions: counter(counts) });
  const a = prog.attachRawTracepoint('sys_enter');
  const b = prog.attachRawTracepoint('sys_exit');
  const ids = [a.info().id, b.info().id];
  assert.ok(closeAllLinks() >= 2);
  assert.ok(a.closed && b.closed);
  assert.equal(openLinks().length, 0);
  assertGone(ids, []);
  // A child that attaches, installs closeOnExit and gets SIGTERM: it cleans up and still dies of SIGTERM.
  const script = `
    import { Program, closeOnExit, asm, R0 } from ${JSON.stringify(new URL('../../src/index.ts', import.meta.url).href)};
    const prog = Program.load({ type: 'raw_tracepoint', instructions: [asm.mov64(R0, 0), asm.exit()] });
    const link = prog.attachRawTracepoint('sys_enter');
    closeOnExit(prog);
    process.stdout.write(String(link.info().id) + '\\n');
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const id = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve(Number(out.trim()));
    });
    child.on('exit', (code) => reject(new Error(`child exited early (${code})`)));
  });
  assert.ok(Link.ids().includes(id), 'the child attached');
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => {
    child.on('exit', (c, s) => resolve([c, s]));
    child.kill('SIGTERM');
  });
  assert.equal(signal, 'SIGTERM');
  assert.equal(code, null);
  assertGone([id], []);
});

test('clear errors: unknown tracepoint, unknown function, type mismatch', () => {
  using tp = Program.load({ type: 'tracepoint', instructions: [asm.mov64(R0, 0), asm.exit()] });
  assert.throws(
    () => tp.attachTracepoint('sched', 'sched_no_such_event'),
    (e: unknown) =>
      e instanceof AttachError &&
      e.code === 'ENOENT' &&
      /no tracepoint "sched_no_such_event" in category "sched"/.test(e.message),
  );
  assert.throws(
    () => tp.attachTracepoint('no_such_category', 'x'),
    (e: unknown) => e instanceof AttachError && /no tracepoint category "no_such_category"/.test(e.message),
  );
  assert.throws(() => tp.attachTracepoint('sched', '../../x'), TypeError);
  using raw = Program.load({ type: 'raw_tracepoint', instructions: [asm.mov64(R0, 0), asm.exit()] });
  assert.throws(
    () => raw.attachRawTracepoint('no_such_tp'),
    (e: unknown) => e instanceof AttachError && e.code === 'ENOENT',
  );
  assert.throws(
    () =>
      Program.loadTracing({
        kind: 'fentry',
        target: 'tsbpf_no_such_function',
        instructions: [asm.mov64(R0, 0), asm.exit()],
      }),
    (e: unknown) =>
      e instanceof AttachError &&
      e.code === 'ENOENT' &&
      /no function "tsbpf_no_such_function" in the kernel's BTF/.test(e.message),
  );
  using xdp = Program.load({ type: 'xdp', instructions: [asm.mov64(R0, 2), asm.exit()] });
  assert.throws(
    () => (xdp as Program).attachTracepoint('sched', 'sched_process_exec'),
    /is of type xdp, but tracepoint sched:sched_process_exec needs a tracepoint program/,
  );
  assert.throws(
    () => xdp.attachRawTracepoint('sys_enter'),
    /needs a raw_tracepoint or raw_tracepoint_writable program/,
  );
  assert.throws(() => tp.attachTracing(), /needs a tracing or lsm or ext program/);
});

test('kprobes: attach and fire where the kernel has them; NotSupportedError suggesting fentry where not', () => {
  using counts = BpfMap.create({ type: 'array', key: t.u32, value: t.u64, maxEntries: 1 });
  using kp = Program.load({
    type: 'kprobe',
    name: 'kp_count',
    instructions: counter(counts, { filter: onlyTid(process.pid) }),
  });
  if (!hasFeature('kprobes')) {
    assert.throws(
      () => kp.attachKprobe('do_sys_openat2'),
      (e: unknown) => isNotSupported(e) && /kprobes/.test((e as Error).message) && /fentry/.test((e as Error).message),
    );
    return;
  }
  using link = kp.attachKprobe('do_sys_openat2');
  assert.equal(link.info().programId, kp.info().id);
  for (let i = 0; i < 7; i++) closeSync(openSync('/proc/self/stat', 'r'));
  assert.equal(counts.lookup(0), 7n);
});

test('missing privileges: an unprivileged process is told what it lacks', () => {
  const script = `
    import { Program, asm, R0 } from ${JSON.stringify(new URL('../../src/index.ts', import.meta.url).href)};
    process.setgid(65534); process.setuid(65534);
    try { Program.load({ type: 'tracepoint', instructions: [asm.mov64(R0, 0), asm.exit()] }).attachTracepoint('sched', 'sched_process_exec'); console.log('attached?!'); }
    catch (e) { console.log(e.name + ': ' + e.message); }
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.match(r.stdout, /BpfError: .*EPERM.*needs root, or CAP_BPF plus CAP_PERFMON/, r.stderr);
});

test('Link.fromId reopens a live link by id', () => {
  using prog = Program.load({ type: 'raw_tracepoint', instructions: [asm.mov64(R0, 0), asm.exit()] });
  using link = prog.attachRawTracepoint('sched_switch');
  const id = link.info().id;
  assert.ok(Link.ids().includes(id));
  using again = Link.fromId(id);
  assert.equal(again.info().tracepoint, 'sched_switch');
  assert.equal(again.info().programId, prog.info().id);
  assert.throws(() => again.pin('/tmp/not-bpffs'), /not on a bpffs/);
});
