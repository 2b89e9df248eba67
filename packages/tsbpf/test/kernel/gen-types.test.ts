// `tsbpf gen types` end to end on the real kernel: generate the module for test/fixtures/c/gen_types.bpf.c, import
// it, set .rodata through it, load, attach, run the xdp program that writes known values into every map and
// global (BPF_PROG_TEST_RUN) and trigger the exec tracepoint — then read everything back through the generated
// types and layouts: exactly the values the C wrote.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ObjectSpec } from '../../src/pure/object-spec.js';
import { generateTypes } from '../../src/pure/codegen-types.js';
import { RingBuffer } from '../../src/kernel/ring-buffer.js';
import { possibleCpus } from '../../src/kernel/cpus.js';
import type { Layout } from '../../src/pure/layout.js';
import { compileFixture } from '../fixtures/clang.js';
import { scratchDir } from '../support/scratch.js';

const OBJ = compileFixture('gen_types');
const INDEX = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/index.ts');
const XDP_PASS = 2;

/** Generates the module into a fresh ESM directory (beside a copy of the object) and imports it. */
async function generated(mode: 'embed' | 'path'): Promise<Record<string, any>> {
  const dir = join(scratchDir(), `gen-kernel-${mode}-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }');
  const bytes = readFileSync(OBJ);
  copyFileSync(OBJ, join(dir, 'gen_types.bpf.o'));
  const spec = ObjectSpec.parse(bytes, { name: 'gen_types' });
  const { source } = generateTypes(spec, {
    name: 'gen_types',
    types: ['ring_event'],
    importFrom: INDEX,
    object: mode === 'embed' ? { embed: bytes } : { path: './gen_types.bpf.o' },
  });
  const file = join(dir, 'gen_types.ts');
  writeFileSync(file, source);
  return (await import(pathToFileURL(file).href)) as Record<string, any>;
}

/** What `fill` writes into last_event (and by_pid[1]), with min_pid = 41. */
const EXPECTED_EVENT = {
  pid: 42,
  tgid: 4000000000,
  s8v: -8,
  s16v: -1600,
  s32v: -320000,
  s64v: -6400000000000n,
  u64v: 0xfedcba9876543210n,
  flag: true,
  comm: 'gen-types',
  names: ['one', 'two'],
  matrix: [
    [0, 1, 2],
    [10, 11, 12],
  ],
  raw: new Uint8Array([0xde, 0xad, 0xbe, 0xef]),
  in: { a: 0x1234, b: 0x56 },
  ins: [
    { a: 1, b: 2 },
    { a: 3, b: 4 },
  ],
  point: { x: 11, y: 12 },
  as_u32: 0x3fc00000,
  as_f32: 1.5,
  lo: 0xaaaa,
  hi: 0xbbbb,
  col: 4294967293, // NEGATIVE (-3): clang 14's BTF marks enums unsigned, and the value decodes as the runtime does
  n: { u: 0xfffffffb, i: -5, f: new Float32Array(new Uint32Array([0xfffffffb]).buffer)[0] },
  fl: { ro: 1, mode: 5, delta: -9, big: 0xabcdef1234n, hue: 2, tail: 0x77 },
  ptr: 0xffff888812345678n,
  f: 0.25,
  d: -2.5,
  pk: { a: 0x11, b: 0x22334455, c: 0x6677 },
  al: { a: 99 },
  fn: { new: 21, this: 22 },
};

test('generated module: .rodata set before load, every map and global read back exactly as the BPF side wrote it', async () => {
  const mod = await generated('embed');
  using obj = await mod.GenTypesObject.open();
  // .rodata: initial values from the object, typed; set before load.
  assert.deepEqual(obj.rodata.ro_inner, { a: 7, b: 8 });
  assert.equal(obj.rodata.ro_color, mod.color.GREEN);
  obj.rodata.min_pid = 41;
  assert.equal(obj.rodata.min_pid, 41);
  assert.equal(obj.programs.fill.info.target.kind, 'xdp');
  assert.equal(obj.programs.count_exec.info.target.kind, 'tracepoint');
  assert.equal(obj.data.data_val, 7);
  obj.load();
  assert.throws(() => {
    obj.rodata.min_pid = 1;
  }, /read-only after load/);
  assert.equal(obj.attach().length, 1, 'the tracepoint attaches; xdp needs an interface');
  execFileSync('/bin/true');

  const run = obj.programs.fill.testRun({ data: new Uint8Array(64) });
  assert.equal(run.retval, XDP_PASS);

  // Globals (.bss, .data, .data.custom) through the map's memory.
  assert.deepEqual(obj.bss.last_event, EXPECTED_EVENT);
  assert.equal(obj.bss.counter, 3n);
  assert.equal(obj.bss.seen, true);
  assert.ok(obj.bss.exec_count >= 1n, `exec_count ${obj.bss.exec_count}`);
  assert.equal(obj.data.data_val, 8);
  assert.equal(obj.data.data_neg, -3);
  assert.equal(obj.data_custom.custom_val, 18);
  assert.equal(obj.data_custom.custom_name, 'hi!');
  // .data is writable after load, through the same memory the program uses.
  obj.data.data_val = 100;
  obj.programs.fill.testRun({ data: new Uint8Array(64) });
  assert.equal(obj.data.data_val, 101);

  // Maps as their typed classes.
  const maps = obj.maps;
  assert.equal(maps.by_pid.constructor.name, 'HashMap');
  assert.deepEqual(maps.by_pid.lookup(1), EXPECTED_EVENT);
  assert.deepEqual(maps.nums.lookup(2), { u: 0x40400000, i: 0x40400000, f: 3 });
  const hits: bigint[] = maps.hits.lookup(0);
  assert.equal(
    hits.reduce((a, b) => a + b, 0n),
    10n,
    `per-CPU hits ${hits}`,
  );
  assert.deepEqual([...maps.by_key.entries()], [[{ k1: 0x01020304, k2: 0x0506 }, EXPECTED_EVENT.fl]]);
  assert.deepEqual(maps.q.pop(), { a: 700, b: 8 });
  assert.deepEqual(maps.q.pop(), { a: 700, b: 8 });
  assert.equal(maps.q.pop(), undefined);
  assert.equal(maps.events.constructor.name, 'RingBufMap');
  const classes = Object.fromEntries(Object.entries(maps).map(([k, m]) => [k, (m as object).constructor.name]));
  assert.deepEqual(classes, {
    inner_a: 'ArrayMap',
    outer: 'HashOfMaps',
    by_pid: 'HashMap',
    nums: 'ArrayMap',
    hits: 'PerCpuArray',
    by_key: 'LruHash',
    q: 'Queue',
    events: 'RingBufMap',
    perf: 'PerfEventArray',
    pc_hash: 'PerCpuHash',
    stk: 'Stack',
    bloom: 'BloomFilter',
    lpm: 'LpmTrie',
    task_store: 'TaskStorage',
    devs: 'GenericMap',
  });
  // Typed codecs on the other kinds: write through one view, read back.
  maps.pc_hash.update(
    3,
    Array.from({ length: maps.pc_hash.lookup(0)?.length ?? possibleCpus() }, (_, i) => ({ a: i, b: 1 })),
  );
  assert.deepEqual(maps.pc_hash.lookup(3)[0], { a: 0, b: 1 });
  maps.stk.push(5n);
  assert.equal(maps.stk.pop(), 5n);
  maps.lpm.update({ prefixlen: 24, addr: new Uint8Array([10, 0, 0, 0]) }, 7);
  assert.equal(maps.lpm.lookup({ prefixlen: 32, addr: new Uint8Array([10, 0, 0, 9]) }), 7);

  // The ring buffer record named with --type decodes the records.
  const ringEvent = mod.ring_event as Layout<{ seq: bigint; tag: string; col: number }>;
  using reader = new RingBuffer(maps.events);
  const records: unknown[] = [];
  for (let r = reader.read(); r; r = reader.read()) records.push(ringEvent.fromBytes(r));
  assert.deepEqual(records, [
    { seq: 77n, tag: 'ring', col: mod.color.GREEN },
    { seq: 77n, tag: 'ring', col: mod.color.GREEN },
  ]);

  obj.close();
  obj.close();
  assert.throws(() => obj.maps, /closed/);
});

test('generated module without --embed reads the object beside it', async () => {
  const mod = await generated('path');
  using obj = await mod.GenTypesObject.open();
  obj.rodata.min_pid = 9;
  obj.load();
  obj.programs.fill.testRun({ data: new Uint8Array(64) });
  assert.equal(obj.bss.last_event.pid, 10);
  assert.deepEqual(obj.maps.by_pid.lookup(1).fl, EXPECTED_EVENT.fl);
});
