// BpfObject on clang-compiled libbpf-style C: an execsnoop-like ring buffer program on a tracepoint, with a .rodata
// filter set from TypeScript, .bss/.data counters, a static subprogram, BTF-typed hash and per-CPU maps, CO-RE
// reads of task_struct, and verifier errors that point at C source lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { BpfObject, BpfObjectError } from '../../src/kernel/object.js';
import { RingBuffer } from '../../src/kernel/ring-buffer.js';
import { VerifierError } from '../../src/kernel/errors.js';
import { btfStructLayout } from '../../src/pure/btf-layout.js';
import { compileFixture } from '../fixtures/clang.js';

const EXECSNOOP = compileFixture('obj_execsnoop');

function spawnTrue(n: number): void {
  for (let i = 0; i < n; i++) execFileSync('/bin/true');
}

/** Drains the ring, decoding events with the layout generated from the object's BTF `struct event`. */
function drain(obj: BpfObject): { pid: number; ppid: number; uid: number; comm: string }[] {
  const event = btfStructLayout(obj.btf!, 'event');
  const out: any[] = [];
  using rb = new RingBuffer(obj.maps.events!, (view, off) => {
    out.push(event.decode(view, off));
  });
  rb.consume();
  return out;
}

test('open: programs, maps, global data and linked subprograms from the ELF and BTF', () => {
  using obj = BpfObject.open(EXECSNOOP);
  assert.equal(obj.name, 'obj_execsnoop');
  assert.equal(obj.license, 'GPL');
  assert.deepEqual(Object.keys(obj.programs), ['handle_exec']);
  const p = obj.programs.handle_exec!;
  assert.equal(p.section, 'tp/sched/sched_process_exec');
  assert.equal(p.info.programType, 'tracepoint');
  assert.deepEqual(p.info.target, { kind: 'tracepoint', category: 'sched', name: 'sched_process_exec' });
  // The static __noinline subprogram in .text is appended once, after the main function.
  assert.deepEqual(p.functions, ['handle_exec', 'add']);
  assert.equal(p.funcInfo?.length, 2);
  assert.ok(p.lineInfo!.length > 10);
  assert.equal(p.coreRelos.length, 3);
  assert.deepEqual(Object.keys(obj.mapSpecs).sort(), ['.bss', '.data', '.rodata', 'by_pid', 'events', 'per_cpu']);
  assert.equal(obj.mapSpecs.events!.type, 'ringbuf');
  assert.equal(obj.mapSpecs.events!.maxEntries, 65536);
  assert.equal(obj.mapSpecs.by_pid!.type, 'hash');
  assert.equal(obj.mapSpecs.by_pid!.valueSize, 40);
  assert.equal(obj.mapSpecs.per_cpu!.type, 'percpu_array');
  assert.deepEqual(obj.rodata!.names, ['target_ppid']);
  assert.deepEqual(obj.bss!.names.sort(), ['filtered', 'last_pid', 'matched']);
  assert.equal(obj.dataSection!.get('scale'), 1n);
  assert.throws(() => obj.maps, /after load/);
  assert.throws(() => obj.programs.handle_exec!.program, /not loaded/);
});

test('execsnoop: ring buffer events of spawned processes, .rodata filter, .bss/.data counters, typed maps', () => {
  using obj = BpfObject.open(EXECSNOOP);
  obj.rodata!.set('target_ppid', process.pid);
  assert.equal(obj.rodata!.vars.target_ppid, process.pid);
  obj.load();
  assert.throws(() => obj.rodata!.set('target_ppid', 1), /read-only after load/);
  assert.equal(
    obj.rodata!.get('target_ppid'),
    process.pid,
    '.rodata is readable after load (frozen map, mmap read-only)',
  );
  const info = obj.programs.handle_exec!.program.info();
  assert.ok(info.btfId > 0, 'the program was loaded with BTF (func_info/line_info)');
  const links = obj.attach();
  assert.equal(links.length, 1);

  spawnTrue(3);
  const mine = drain(obj).filter((e) => e.ppid === process.pid);
  assert.equal(mine.length, 3, 'one event per spawned child');
  for (const e of mine) {
    assert.equal(e.comm, 'true');
    assert.equal(e.uid, process.getuid!());
    assert.ok(e.pid > 0 && e.pid !== process.pid);
  }
  // Only our children pass the .rodata filter, so matched counts exactly them (.bss read through mmap).
  assert.equal(obj.bss!.get('matched'), 3n);
  const lastPid = obj.bss!.get('last_pid');
  assert.equal(lastPid, mine[2]!.pid);
  // BTF-typed hash map: the value decodes into the C struct without restating it.
  const rec = obj.maps.by_pid!.lookup(lastPid);
  assert.equal(rec.pid, lastPid);
  assert.equal(rec.ppid, process.pid);
  assert.equal(rec.comm, 'true');
  // Per-CPU array: one value per CPU, summed.
  assert.equal(Number(obj.maps.per_cpu!.sum(0)), 3);

  // .data written from TypeScript after load is what the program reads next.
  obj.dataSection!.vars.scale = 10n;
  spawnTrue(2);
  assert.equal(obj.bss!.get('matched'), 23n);
  assert.equal(drain(obj).filter((e) => e.ppid === process.pid).length, 2);
});

test('.rodata filter set from TypeScript changes what is counted', () => {
  using obj = BpfObject.open(EXECSNOOP);
  obj.rodata!.vars.target_ppid = 1; // not us: our children are filtered out
  obj.load();
  obj.attach();
  spawnTrue(3);
  assert.equal(drain(obj).filter((e) => e.ppid === process.pid).length, 0);
  assert.ok(obj.bss!.get('filtered') >= 3n);
});

test('close() detaches, unloads and closes everything; twice is safe; use after close throws', () => {
  const obj = BpfObject.open(EXECSNOOP).load();
  const map = obj.maps.events!;
  const prog = obj.programs.handle_exec!.program;
  const link = obj.programs.handle_exec!.attach();
  obj.close();
  obj.close();
  assert.ok(map.closed && prog.closed && link.closed);
  assert.throws(() => obj.maps, /closed/);
  assert.throws(() => obj.load(), /closed/);
});

test('verifier errors point at the C source line (func_info/line_info passed to the kernel)', () => {
  // elfbtf_maps.bpf.c passes ring buffer memory as both key and value of bpf_map_update_elem: the verifier refuses.
  const obj = BpfObject.open(compileFixture('elfbtf_maps'));
  obj.programs.on_openat2!.autoload = false; // not under test: fentry, which some kernels refuse
  obj.programs.xdp_pass!.autoload = false;
  const err = assert.throws(
    () => obj.load(),
    (e: unknown) => {
      assert.ok(e instanceof VerifierError);
      const src = (e as VerifierError & { source: { file: string; line: number; text: string } }).source;
      assert.match(src.file, /elfbtf_maps\.bpf\.c$/);
      assert.equal(src.line, 69);
      assert.match(src.text, /bpf_map_update_elem\(&by_pid/);
      assert.match(e.message, /elfbtf_maps\.bpf\.c:69:\d+: bpf_map_update_elem/);
      assert.match(e.log, /@ elfbtf_maps\.bpf\.c:69/, 'the kernel log interleaves source lines from line_info');
      return true;
    },
  );
  void err;
  assert.equal(obj.loaded, false);
  obj.close();
});

test('autoload off and a failed load leave nothing behind; unknown names throw clearly', () => {
  using obj = BpfObject.open(EXECSNOOP);
  assert.throws(() => obj.program('nope'), /no program "nope".*handle_exec/);
  obj.programs.handle_exec!.autoload = false;
  obj.load();
  assert.equal(obj.programs.handle_exec!.loaded, false);
  assert.throws(() => obj.map('nope'), /no map "nope"/);
  assert.ok(obj.maps.events);
  assert.throws(() => BpfObject.open(42 as never), TypeError);
  assert.ok(BpfObjectError);
});
