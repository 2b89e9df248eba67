/**
 * BPF iterators from a clang-built object (test/fixtures/c/iter_task.bpf.c): `iter/task` read as text contains
 * this process's pid and comm; narrowed to one pid it lists only this process's threads; `iter/bpf_map_elem`
 * narrowed to a map prints exactly its elements; `iter/bpf_map` lists the object's own maps by id; the async
 * iterator yields the same bytes as read(), in chunks as small as asked.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { BpfObject } from '../../src/kernel/object.js';
import { BpfError, IterLink, iterTargetBtfId, AttachError, Program, asm, R0 } from '../../src/index.js';
import { compileFixture } from '../fixtures/clang.js';
import { requireFeature } from '../support/features.js';

const OBJ = compileFixture('iter_task');
// Map-element iterators load only where the kernel allows them (see features.ts 'map-iterators'): a second object.
const obj = BpfObject.open(OBJ);
obj.programs.dump_elem!.autoload = false;
obj.load();
after(() => obj.close());
const comm = readFileSync('/proc/self/comm', 'utf8').trim();

function parseTasks(text: string): { tid: number; pid: number; comm: string }[] {
  const lines = text.trimEnd().split('\n');
  assert.equal(lines[0], 'tid pid comm');
  return lines.slice(1).map((l) => {
    const m = /^(\d+) (\d+) (.*)$/.exec(l);
    assert.ok(m, `line "${l}"`);
    return { tid: Number(m[1]), pid: Number(m[2]), comm: m[3]! };
  });
}

test('iter/task: read() returns what the program printed, including this process', () => {
  using link = obj.programs.dump_task!.program.attachIter();
  assert.ok(link instanceof IterLink);
  assert.equal(link.info().type, 'iter');
  const tasks = parseTasks(link.read());
  assert.ok(tasks.length > 10, `only ${tasks.length} tasks`);
  assert.ok(
    tasks.some((t) => t.tid === process.pid && t.pid === process.pid && t.comm === comm),
    `no "${process.pid} ${process.pid} ${comm}" line`,
  );
  assert.ok(
    tasks.some((t) => t.tid === process.ppid && t.pid === process.ppid),
    'no line for the parent process',
  );
  // Each read runs the iterator afresh.
  assert.ok(parseTasks(link.read()).some((t) => t.tid === process.pid));
});

test('iter/task narrowed to one pid lists exactly its threads', () => {
  using link = obj.programs.dump_task!.program.attachIter({ task: { pid: process.pid } });
  const tasks = parseTasks(link.read());
  const threads = readdirSync(`/proc/${process.pid}/task`)
    .map(Number)
    .sort((a, b) => a - b);
  assert.ok(
    tasks.every((t) => t.pid === process.pid),
    JSON.stringify(tasks),
  );
  assert.ok(tasks.some((t) => t.tid === process.pid && t.comm === comm));
  // Node's worker threads may come and go between the two looks, but the main thread and most others stay.
  assert.ok(tasks.length >= 1 && tasks.length <= threads.length + 4);
  using one = obj.programs.dump_task!.program.attachIter({ task: { tid: process.pid } });
  assert.deepEqual(
    parseTasks(one.read()).map((t) => t.tid),
    [process.pid],
  );
});

test('iter/bpf_map_elem narrowed to a map prints its elements; chunks() yields the same bytes', async (t) => {
  if (!requireFeature(t, 'map-iterators')) return;
  const elemObj = BpfObject.open(OBJ);
  for (const p of Object.values(elemObj.programs)) p.autoload = p.name === 'dump_elem';
  elemObj.load();
  t.after(() => elemObj.close());
  const vals = elemObj.map('vals');
  const want: string[] = [];
  for (let k = 1; k <= 40; k++) {
    vals.update(u32(k), u64(BigInt(k) * 1000n));
    want.push(`${k}=${k * 1000}`);
  }
  using link = elemObj.programs.dump_elem!.program.attachIter({ map: vals });
  const text = link.read();
  assert.deepEqual(text.trimEnd().split('\n').sort(), want.sort());
  const chunks: Buffer[] = [];
  for await (const c of link.chunks({ size: 64 })) {
    assert.ok(c.byteLength <= 64);
    chunks.push(c);
  }
  assert.ok(chunks.length > 1);
  assert.equal(Buffer.concat(chunks).toString(), text);
  let all = '';
  for await (const c of link) all += c.toString();
  assert.equal(all, text);
  // bpf_map_elem needs a map: the kernel refuses the link without one.
  assert.throws(
    () => elemObj.programs.dump_elem!.program.attachIter(),
    (e: unknown) => e instanceof BpfError && e.code === 'EINVAL',
  );
});

test("iter/bpf_map lists maps, including this object's", () => {
  using link = obj.programs.dump_maps!.program.attachIter();
  const id = obj.map('vals').info().id;
  assert.match(link.read(), new RegExp(`^${id} vals 64$`, 'm'));
});

test('auto-attach from SEC("iter/task") gives an IterLink', () => {
  const link = obj.programs.dump_task!.attach({ iter: { task: { tid: process.pid } } });
  assert.ok(link instanceof IterLink);
  assert.deepEqual(
    parseTasks((link as IterLink).read()).map((t) => t.pid),
    [process.pid],
  );
  link.close();
});

test('chunks() of iter/task: small chunks reassemble into the whole text', async () => {
  using link = obj.programs.dump_task!.program.attachIter({ task: { tid: process.pid } });
  const chunks: Buffer[] = [];
  for await (const c of link.chunks({ size: 8 })) {
    assert.ok(c.byteLength <= 8);
    chunks.push(c);
  }
  assert.ok(chunks.length > 2);
  assert.equal(Buffer.concat(chunks).toString(), `tid pid comm\n${process.pid} ${process.pid} ${comm}\n`);
  let all = '';
  for await (const c of link) all += c.toString();
  assert.equal(all, link.read());
});

test('Program.loadIter with asm; unknown targets and wrong programs are refused before the kernel', () => {
  using p = Program.loadIter({ target: 'task', instructions: [asm.mov64(R0, 0), asm.exit()] });
  using link = p.attachIter();
  assert.equal(link.read(), '');
  assert.throws(
    () => iterTargetBtfId('no_such_iterator'),
    (e: unknown) => e instanceof AttachError && e.code === 'ENOENT',
  );
  assert.throws(() => p.attachIter({ task: { pid: 1, tid: 1 } }), /exactly one/);
  assert.throws(() => p.attachIter({ map: { fd: 3 }, task: { pid: 1 } }), /one of/);
  using xdp = Program.load({ type: 'xdp', instructions: [asm.mov64(R0, 2), asm.exit()] });
  assert.throws(() => xdp.attachIter(), /needs a tracing program/);
  link.close();
  assert.throws(() => link.read(), /closed/);
});

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}
function u64(n: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, n, true);
  return b;
}
