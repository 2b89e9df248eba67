// One ObjectSpec loaded several times with different edits (a .rodata constant, a map size, a tail-call switch,
// a .kconfig override): each load sees its own values in the kernel, earlier loads keep theirs, and the spec
// itself is never changed by loading. Also: .kconfig resolved at load, CO-RE against the running kernel,
// static map-in-map and prog_array slots, perf_event_array defaults.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { BpfObject } from '../../src/kernel/object.js';
import { ObjectSpec } from '../../src/pure/object-spec.js';
import { Btf } from '../../src/pure/btf.js';
import { possibleCpus } from '../../src/kernel/cpus.js';
import { compileFixture } from '../fixtures/clang.js';

const BYTES = readFileSync(compileFixture('obj_spec'));
const XDP_PASS = 2;
const XDP_DROP = 1;
const PACKET = new Uint8Array(64);

function kernelVersionCode(): number {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release())!;
  return (Number(m[1]) << 16) + (Number(m[2]) << 8) + Math.min(Number(m[3] ?? 0), 255);
}

test('one spec, loaded twice with different edits: each object has its own constant and map size', () => {
  const spec = ObjectSpec.parse(BYTES, { name: 'obj_spec' });
  using a = BpfObject.load(spec);
  const xdpA = a.program('xdp_spec');
  assert.equal(xdpA.testRun({ data: PACKET }).retval, XDP_PASS);
  assert.equal(a.maps.counts!.info().maxEntries, 8);

  spec.maps.counts!.maxEntries = 32;
  spec.rodata!.set('verdict', XDP_DROP);
  using b = BpfObject.load(spec);
  assert.equal(b.program('xdp_spec').testRun({ data: PACKET }).retval, XDP_DROP);
  assert.equal(b.maps.counts!.info().maxEntries, 32);
  // The first object is untouched by the second load.
  assert.equal(xdpA.testRun({ data: PACKET }).retval, XDP_PASS);
  assert.equal(a.maps.counts!.info().maxEntries, 8);

  // Tail call through the prog_array slot the C source fills statically (jumps[0] = xdp_tail).
  const tail = spec.copy();
  tail.rodata!.set('verdict', XDP_PASS);
  tail.rodata!.set('use_tail', 1);
  using c = BpfObject.load(tail);
  assert.equal(c.program('xdp_spec').testRun({ data: PACKET }).retval, XDP_DROP);
  assert.equal(spec.rodata!.get('use_tail'), 0, "the copy's edit stays in the copy");
});

test('load resolves .kconfig, CO-RE, subprograms, callbacks and static map-in-map slots in the kernel', () => {
  const spec = ObjectSpec.parse(BYTES, { name: 'obj_spec' });
  using obj = BpfObject.load(spec);
  assert.equal(obj.program('xdp_spec').testRun({ data: PACKET }).retval, XDP_PASS);
  const bss = obj.bss!;
  assert.equal(Number(bss.get('kernel_version')), kernelVersionCode());
  assert.equal(obj.dataSection!.get('missing_option'), 0n, '__weak absent kconfig reads 0');
  const vm = Btf.parse(readFileSync('/sys/kernel/btf/vmlinux'));
  assert.equal(
    Number(bss.get('pid_offset')),
    vm.findMember(vm.findByName('task_struct', 'struct')!, 'pid')!.byteOffset,
  );
  assert.equal(bss.get('loops'), 3n, 'bpf_loop ran the linked callback 3 times');
  assert.equal(obj.maps.counts!.lookup(6), 1n);
  assert.equal(obj.maps.counts!.lookup(7), 1n);
  assert.equal(obj.maps.inner_a!.lookup(0), 1, 'outer[1] is inner_a');
  assert.equal(obj.maps.perf!.info().maxEntries, possibleCpus());
  assert.equal(obj.kconfig!.get('LINUX_KERNEL_VERSION'), kernelVersionCode());
  // Loading resolved the copy; the spec keeps unresolved externs and CO-RE records.
  assert.deepEqual([...spec.data('.kconfig')!.bytes()], [0, 0, 0, 0, 0, 0, 0, 0]);
  assert.equal(spec.program('xdp_spec').core[0]!.result, undefined);
  assert.equal(obj.program('xdp_spec').coreResults.length, 1);

  using over = BpfObject.load(spec, { kconfig: { CONFIG_TSBPF_NOT_A_REAL_OPTION: 42 } });
  over.program('xdp_spec').testRun({ data: PACKET });
  assert.equal(over.dataSection!.get('missing_option'), 42n);
});

test('BpfObject wraps a spec in place: edits through the object or the spec before load() both count', () => {
  const spec = ObjectSpec.parse(BYTES, { name: 'obj_spec' });
  using obj = new BpfObject(spec);
  assert.equal(obj.mapSpecs, spec.maps);
  obj.rodata!.set('verdict', XDP_DROP);
  spec.maps.counts!.maxEntries = 16;
  obj.programs.xdp_tail!.autoload = false;
  assert.equal(spec.programs.xdp_tail!.autoload, false);
  obj.load();
  assert.equal(obj.program('xdp_spec').testRun({ data: PACKET }).retval, XDP_DROP);
  assert.equal(obj.maps.counts!.info().maxEntries, 16);
  assert.equal(obj.programs.xdp_tail!.loaded, false);
});
