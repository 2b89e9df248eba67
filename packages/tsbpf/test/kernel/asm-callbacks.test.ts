/**
 * Callbacks from assembled programs: `Program.load` generates BTF func_info for subprograms, so `bpf_loop`
 * and `bpf_for_each_map_elem` callbacks written with `asm.ldFunc` pass the verifier without clang. Results are
 * read back from maps and return values; the generated BTF is checked by parsing it back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  asm,
  assemble,
  assembleProgram,
  Btf,
  BpfMap,
  Program,
  t,
  R0,
  R1,
  R2,
  R3,
  R4,
  R6,
  R7,
  R10,
  type AsmItem,
} from '../../src/index.js';
import { programFuncBtf, subprogramStarts } from '../../src/pure/asm-func-btf.js';

/** Looks up `map[0]`; exits with 1 when missing, else leaves the value pointer in R6. */
function lookupZero(map: { fd: number }): AsmItem[] {
  return [
    asm.stw(R10, -4, 0),
    asm.ldMapFd(R1, map),
    asm.mov64(R2, R10),
    asm.add64(R2, -4),
    asm.call('map_lookup_elem'),
    asm.mov64(R6, R0),
    asm.mov64(R0, 1),
    asm.jne(R6, 0, 'have-value'),
    asm.exit(),
    asm.label('have-value'),
  ];
}

test('bpf_loop with an assembled callback sums 0..99 into a map value', () => {
  using m = BpfMap.create({ type: 'array', key: t.u32, value: t.u64, maxEntries: 1 });
  using p = Program.load({
    type: 'xdp',
    name: 'loop_sum',
    instructions: [
      ...lookupZero(m),
      // bpf_loop's ctx must point to the stack: spill the map value pointer there and pass its address.
      asm.stxdw(R10, -16, R6),
      asm.mov64(R1, 100),
      asm.ldFunc(R2, 'sum-step'),
      asm.mov64(R3, R10),
      asm.add64(R3, -16),
      asm.mov64(R4, 0),
      asm.call('loop'), //                                        r0 = iterations done
      asm.exit(),

      asm.label('sum-step'), //                                   long sum_step(u64 index, void *ctx)
      asm.ldxdw(R2, R2, 0), //                                    the spilled map value pointer
      asm.ldxdw(R3, R2, 0),
      asm.add64(R3, R1),
      asm.stxdw(R2, 0, R3),
      asm.mov64(R0, 0), //                                        0: continue
      asm.exit(),
    ],
  });
  assert.equal(p.testRun({ data: new Uint8Array(64) }).retval, 100);
  assert.equal(m.lookup(0), 4950n);
  assert.ok(p.info().btfId > 0, 'the program carries the generated BTF');
});

test('bpf_for_each_map_elem with an assembled callback counts and sums an array map', () => {
  using arr = BpfMap.create({ type: 'array', key: t.u32, value: t.u64, maxEntries: 5 });
  for (let i = 0; i < 5; i++) arr.update(i, BigInt((i + 1) * 10));
  using p = Program.load({
    type: 'socket_filter',
    instructions: [
      asm.stdw(R10, -16, 0), //                                   ctx: { u64 count; u64 sum } at fp-16
      asm.stdw(R10, -8, 0),
      asm.ldMapFd(R1, arr),
      asm.ldFunc(R2, 'visit'),
      asm.mov64(R3, R10),
      asm.add64(R3, -16),
      asm.mov64(R4, 0),
      asm.call('for_each_map_elem'), //                           r0 = elements visited
      asm.mov64(R7, R0),
      asm.ldxdw(R1, R10, -16),
      asm.mul64(R1, 1000), //            count * 1000
      asm.ldxdw(R2, R10, -8),
      asm.add64(R1, R2), //               + sum
      asm.mul64(R7, 100000),
      asm.add64(R1, R7), //                + visited * 100000
      asm.mov64(R0, R1),
      asm.exit(),

      asm.label('visit'), //                                      long visit(map, u32 *key, u64 *value, void *ctx)
      asm.ldxdw(R1, R4, 0),
      asm.add64(R1, 1),
      asm.stxdw(R4, 0, R1),
      asm.ldxdw(R1, R3, 0),
      asm.ldxdw(R2, R4, 8),
      asm.add64(R2, R1),
      asm.stxdw(R4, 8, R2),
      asm.mov64(R0, 0),
      asm.exit(),
    ],
  });
  assert.equal(p.testRun({ data: new Uint8Array(64) }).retval, 5 * 100000 + 5 * 1000 + 150);
});

test('bpf-to-bpf calls plus a callback: several subprograms, each with its own func_info record', () => {
  using m = BpfMap.create({ type: 'array', key: t.u32, value: t.u64, maxEntries: 1 });
  using p = Program.load({
    type: 'socket_filter',
    instructions: [
      ...lookupZero(m),
      asm.mov64(R1, 7),
      asm.callLabel('triple'),
      asm.stxdw(R6, 0, R0), //   map[0] = 21
      asm.stxdw(R10, -16, R6),
      asm.mov64(R1, 3),
      asm.ldFunc(R2, 'add-index'),
      asm.mov64(R3, R10),
      asm.add64(R3, -16),
      asm.mov64(R4, 0),
      asm.call('loop'), //                                                   += 0 + 1*3 + 2*3
      asm.ldxdw(R0, R6, 0),
      asm.exit(),

      asm.label('triple'),
      asm.mov64(R0, R1),
      asm.mul64(R0, 3),
      asm.exit(),

      asm.label('add-index'),
      asm.ldxdw(R6, R2, 0),
      asm.callLabel('triple'),
      asm.ldxdw(R1, R6, 0),
      asm.add64(R1, R0),
      asm.stxdw(R6, 0, R1),
      asm.mov64(R0, 0),
      asm.exit(),
    ],
  });
  assert.equal(p.testRun({ data: new Uint8Array(64) }).retval, 30);
  assert.equal(m.lookup(0), 30n);
});

test('plain bpf-to-bpf calls still load and run (now with generated BTF)', () => {
  using p = Program.load({
    type: 'socket_filter',
    instructions: [
      asm.mov64(R1, 12),
      asm.callLabel('square'),
      asm.add64(R0, 1),
      asm.exit(),
      asm.label('square'),
      asm.mov64(R0, R1),
      asm.mul64(R0, R1),
      asm.exit(),
    ],
  });
  assert.equal(p.testRun({ data: new Uint8Array(64) }).retval, 145);
  assert.ok(p.info().btfId > 0);
});

test('programs without subprograms get no BTF; raw bytes are loaded exactly as given', () => {
  using plain = Program.load({ type: 'socket_filter', instructions: [asm.mov64(R0, 3), asm.exit()] });
  assert.equal(plain.info().btfId, 0);
  // Raw bytes opt out of generation: a callback then meets the verifier's own func_info requirement.
  const bytes = assemble([
    asm.mov64(R1, 5),
    asm.ldFunc(R2, 'cb'),
    asm.mov64(R3, 0),
    asm.mov64(R4, 0),
    asm.call('loop'),
    asm.exit(),
    asm.label('cb'),
    asm.mov64(R0, 0),
    asm.exit(),
  ]);
  assert.throws(() => Program.load({ type: 'socket_filter', instructions: bytes }), /func_info/);
});

test('generated BTF parses back with static FUNCs named after the labels and func_info at each start', () => {
  const { bytes, labels } = assembleProgram([
    asm.mov64(R1, 1),
    asm.callLabel('do-work'),
    asm.ldFunc(R2, '2nd.cb'),
    asm.callLabel(5),
    asm.exit(), // slots 0..5
    asm.label('do-work'),
    asm.mov64(R0, 0),
    asm.exit(), //                    slot 6
    asm.label('2nd.cb'),
    asm.label('alias'),
    asm.mov64(R0, 0),
    asm.exit(), // slot 8 (first label wins)
    asm.mov64(R0, 0),
    asm.exit(), //                                          slot 10: callLabel(5) from slot 4, no label
  ]);
  assert.deepEqual(subprogramStarts(bytes), [0, 6, 8, 10]);
  const gen = programFuncBtf(bytes, { labels, mainName: 'my.prog' });
  assert.ok(gen);
  const btf = Btf.parse(gen.btf);
  const funcs = btf.types.filter((x) => x.kind === 12);
  assert.deepEqual(
    funcs.map((f) => f.name),
    ['my_prog', 'do_work', '_2nd_cb', 'sub_10'],
  );
  for (const f of funcs) {
    assert.equal(f.kind === 12 && f.linkage, 0, `${f.name} is static`);
    const proto = btf.type(f.kind === 12 ? f.type : 0);
    assert.equal(proto.kind, 13);
  }
  const main = funcs[0]!;
  assert.equal(btf.describe(main.kind === 12 ? main.type : 0), 'int (*)(void *)');
  const sub = funcs[1]!;
  assert.equal(btf.describe(sub.kind === 12 ? sub.type : 0), 'long (*)()');
  assert.deepEqual(
    gen.funcs.map((f) => f.insn),
    [0, 6, 8, 10],
  );
  const v = new DataView(gen.funcInfo.buffer);
  assert.equal(gen.funcInfo.byteLength, 4 * 8);
  for (let i = 0; i < 4; i++) {
    assert.equal(v.getUint32(i * 8, true), gen.funcs[i]!.insn);
    assert.equal(v.getUint32(i * 8 + 4, true), funcs[i]!.id);
  }
  // Name clashes after sanitising get suffixes; no subprograms means no BTF.
  const clash = assembleProgram([
    asm.callLabel('a-b'),
    asm.callLabel('a.b'),
    asm.exit(),
    asm.label('a-b'),
    asm.exit(),
    asm.label('a.b'),
    asm.exit(),
  ]);
  assert.deepEqual(
    programFuncBtf(clash.bytes, { labels: clash.labels })!.funcs.map((f) => f.name),
    ['main', 'a_b', 'a_b_2'],
  );
  assert.equal(programFuncBtf(assemble([asm.mov64(R0, 0), asm.exit()])), undefined);
});
