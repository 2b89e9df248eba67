// The seeds' Chapter 28 libbpf examples (ringbuf.bpf.c and events.bpf.c, `trace_exec` on exec) compiled from their
// C source and driven from TypeScript: open, load, attach by section, read events with RingBuffer / PerfBuffer.
// The seed's SEC("kprobe/__x64_sys_execve") needs kprobes, which some kernels lack, so the fixtures default to
// tp/sched/sched_process_exec; the kprobe original loads everywhere, then attaches and fires where kprobes exist,
// and fails to attach with NotSupportedError where they don't.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { BpfObject } from '../../src/kernel/object.js';
import { RingBuffer } from '../../src/kernel/ring-buffer.js';
import { PerfBuffer } from '../../src/kernel/perf-buffer.js';
import { hasFeature, isNotSupported } from '../support/features.js';
import { possibleCpus } from '../../src/kernel/cpus.js';
import { compileFixture, FIXTURE_OUT, FIXTURE_SRC, vmlinuxHeader } from '../fixtures/clang.js';

/** Same flags as compileFixture, with the seed's original kprobe section, to a separate object. */
function compileKprobeVariant(name: string): string {
  vmlinuxHeader();
  const out = join(FIXTURE_OUT, `${name}_kprobe.bpf.o`);
  execFileSync('clang', [
    '-O2',
    '-g',
    '-target',
    'bpf',
    '-D__TARGET_ARCH_x86',
    '-I',
    FIXTURE_OUT,
    '-I',
    FIXTURE_SRC,
    '-I',
    '/usr/include/x86_64-linux-gnu',
    '-DTRACE_EXEC_SEC="kprobe/__x64_sys_execve"',
    '-c',
    join(FIXTURE_SRC, `${name}.bpf.c`),
    '-o',
    out,
  ]);
  return out;
}

/** Runs /bin/true n times; returns the children's pids. */
function spawnTrue(n: number): Set<number> {
  const pids = new Set<number>();
  for (let i = 0; i < n; i++) pids.add(spawnSync('/bin/true').pid!);
  return pids;
}

test('Chapter 28 ringbuf.bpf.c: trace_exec events through a RingBuffer', () => {
  using obj = BpfObject.open(compileFixture('ch28_ringbuf'));
  assert.equal(obj.programs.trace_exec!.section, 'tp/sched/sched_process_exec');
  assert.equal(obj.mapSpecs.events!.maxEntries, 256 * 1024);
  obj.load();
  obj.attach();
  const events: { pid: number; comm: string }[] = [];
  // struct event { __u32 pid; char comm[16]; } read straight from ring memory, like the seed's handle_event.
  using rb = new RingBuffer(obj.maps.events!, (view, off) => {
    events.push({ pid: view.getUint32(off, true), comm: view.cString(off + 4, 16) });
  });
  const pids = spawnTrue(4);
  rb.consume();
  const mine = events.filter((e) => pids.has(e.pid));
  assert.equal(mine.length, 4);
  for (const e of mine) assert.equal(e.comm, 'true');
});

test('Chapter 28 events.bpf.c: trace_exec samples through a PerfBuffer (max_entries defaults to the CPU count)', () => {
  using obj = BpfObject.open(compileFixture('ch28_perf'));
  obj.load();
  assert.equal(obj.maps.events!.maxEntries, possibleCpus());
  obj.attach();
  const events: { pid: number; comm: string; cpu: number }[] = [];
  let lost = 0;
  using pb = new PerfBuffer(
    obj.maps.events!,
    (view, off, _len, cpu) => {
      events.push({ pid: view.getUint32(off, true), comm: view.cString(off + 4, 16), cpu });
    },
    {
      pageCount: 8,
      onLost: (_cpu, n) => {
        lost += n;
      },
    },
  );
  const pids = spawnTrue(4);
  pb.consume();
  const mine = events.filter((e) => pids.has(e.pid));
  assert.equal(mine.length, 4);
  assert.equal(lost, 0);
  for (const e of mine) {
    assert.equal(e.comm, 'true');
    assert.ok(e.cpu >= 0 && e.cpu < possibleCpus());
  }
});

test('Chapter 28 as printed (SEC("kprobe/__x64_sys_execve")): loads, then attaches and fires where the kernel has kprobes, NotSupportedError where not', () => {
  for (const name of ['ch28_ringbuf', 'ch28_perf']) {
    using obj = BpfObject.open(compileKprobeVariant(name));
    const p = obj.programs.trace_exec!;
    assert.equal(p.info.programType, 'kprobe');
    assert.deepEqual(p.info.target, { kind: 'kprobe', function: '__x64_sys_execve', offset: 0, retprobe: false });
    obj.load();
    if (!hasFeature('kprobes')) {
      assert.throws(
        () => obj.attach(),
        (e: unknown) => {
          assert.ok(isNotSupported(e), String(e));
          assert.match((e as Error).message, /kprobe __x64_sys_execve.*kprobes/);
          return true;
        },
      );
      continue;
    }
    obj.attach();
    // At execve entry the task is still the spawned child, before its comm changes: count by pid.
    const seen = new Set<number>();
    const onEvent = (view: { getUint32(o: number, le: boolean): number }, off: number) => {
      seen.add(view.getUint32(off, true));
    };
    using reader =
      name === 'ch28_ringbuf'
        ? new RingBuffer(obj.maps.events!, onEvent)
        : new PerfBuffer(obj.maps.events!, onEvent, { pageCount: 8 });
    const pids = spawnTrue(4);
    reader.consume();
    assert.equal([...pids].filter((pid) => seen.has(pid)).length, 4);
  }
});
