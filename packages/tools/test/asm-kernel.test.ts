/**
 * The kernel accepts and runs programs built with the assembler: ALU64/ALU32 (including v4 signed
 * division, movsx, bswap), JMP32, atomics with fetch, bpf-to-bpf calls and callbacks, ld_imm64 map
 * references (fd and direct value), legacy packet loads, and the seeds' Lab 12.1/12.2 programs.
 * Every result is read back from a map or the return value.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { asm, BpfMap, Program, t, R0, R1, R2, R3, R4, R6, R7, R10, type AsmItem } from 'tsbpf';
import { zeroCopyProgram, batchedZeroCopyProgram, copyBasedProgram, EVENT_SIZE } from '../examples/lab12-2-zerocopy.js';
import { ultraPacketCounter, optimizedPacketCounter, UltraStats, XDP } from '../examples/lab12-1-ultra.js';

const SLOTS = 24;
const results = () => BpfMap.create({ type: 'array', key: t.u32, value: t.array(t.i64, SLOTS), maxEntries: 1 });

/** Looks up results[0] into R6 (exits with 1 if missing), runs `body`, stores R-values via `put`, returns 0. */
function withResults(map: { fd: number }, body: AsmItem[]): AsmItem[] {
  return [
    asm.stw(R10, -4, 0),
    asm.ldMapFd(R1, map),
    asm.mov64(R2, R10),
    asm.add64(R2, -4),
    asm.call('map_lookup_elem'),
    asm.mov64(R6, R0),
    asm.mov64(R0, 1),
    asm.jeq(R6, 0, 'out'),
    ...body,
    asm.mov64(R0, 0),
    asm.label('out'),
    asm.exit(),
  ];
}
const put = (slot: number) => asm.stxdw(R6, slot * 8, R1);
function run(
  insns: AsmItem[],
  type: 'socket_filter' | 'xdp' = 'socket_filter',
  maps?: Record<string, { fd: number }>,
): number {
  using p = Program.load({ type, instructions: insns, license: 'GPL', maps });
  return p.testRun({ data: new Uint8Array(64) }).retval;
}

test('ALU64 and ALU32 arithmetic, v4 signed ops, sign extension and byte swaps compute the right values', () => {
  using m = results();
  const retval = run(
    withResults(m, [
      asm.mov64(R1, 7),
      asm.mul64(R1, 6),
      put(0), //                            42
      asm.mov64(R1, -20),
      asm.sdiv64(R1, 3),
      put(1), //                          -6
      asm.mov64(R1, -20),
      asm.smod64(R1, 3),
      put(2), //                          -2
      asm.mov32(R1, -1),
      asm.add32(R1, 2),
      put(3), //                            1 (32-bit wrap, zero-extended)
      asm.ldImm64(R1, -1),
      asm.mov32(R1, R1),
      put(4), //                         0xffffffff
      asm.mov64(R1, 0x80),
      asm.movsx64(R1, R1, 8),
      put(5), //                   -128
      asm.mov64(R1, 0x1234),
      asm.bswap16(R1),
      put(6), //                         0x3412
      asm.mov64(R1, 0x11223344),
      asm.be32(R1),
      put(7), //                        0x44332211
      asm.mov64(R1, -16),
      asm.arsh64(R1, 2),
      put(8), //                          -4
      asm.mov64(R1, 5),
      asm.neg64(R1),
      put(9), //                                -5
      asm.mov64(R1, 1),
      asm.lsh64(R1, 40),
      asm.rsh64(R1, 8),
      put(10), //         2^32
      asm.mov64(R1, 0xf0),
      asm.xor64(R1, 0xff),
      asm.or64(R1, 0x100),
      asm.and64(R1, 0x10f),
      put(11), // 0x10f
      asm.mov64(R1, 100),
      asm.mov64(R2, 0),
      asm.div64(R1, R2),
      put(12), //       0 (division by zero is 0)
      asm.mov64(R1, 100),
      asm.mov32(R2, 0),
      asm.mod32(R1, R2),
      put(13), //       100 (mod by zero keeps dividend)
      asm.ldImm64(R1, 0x1122334455667788n),
      put(14),
      asm.mov64(R1, 1000),
      asm.sub64(R1, 1001),
      put(15), //                      -1
      asm.mov64(R1, -7),
      asm.mov32(R2, R1),
      asm.arsh32(R2, 1),
      asm.mov64(R1, R2),
      put(16), // 0xfffffffc
      asm.mov64(R1, 0x8000),
      asm.movsx32(R1, R1, 16),
      put(17), //               0xffff8000 (32-bit sign extension)
    ]),
  );
  assert.equal(retval, 0);
  const v = m.lookup(0) as bigint[];
  assert.deepEqual(v.slice(0, 18), [
    42n,
    -6n,
    -2n,
    1n,
    0xffffffffn,
    -128n,
    0x3412n,
    0x44332211n,
    -4n,
    -5n,
    1n << 32n,
    0x10fn,
    0n,
    100n,
    0x1122334455667788n,
    -1n,
    0xfffffffcn,
    0xffff8000n,
  ]);
});

test('JMP32 compares only the low 32 bits; JMP compares all 64', () => {
  using m = results();
  const flag = (slot: number, jump: AsmItem, name: string): AsmItem[] => [
    asm.mov64(R1, 0),
    jump,
    asm.ja(`${name}-done`),
    asm.label(name),
    asm.mov64(R1, 1),
    asm.label(`${name}-done`),
    put(slot),
  ];
  run(
    withResults(m, [
      asm.ldImm64(R7, 0x100000005n),
      ...flag(0, asm.jeq32(R7, 5, 'a'), 'a'), //           taken: low half is 5
      ...flag(1, asm.jeq(R7, 5, 'b'), 'b'), //             not taken
      asm.ldImm64(R7, 0xffffffffn),
      ...flag(2, asm.jslt32(R7, 0, 'c'), 'c'), //          taken: w7 is -1
      ...flag(3, asm.jslt(R7, 0, 'd'), 'd'), //            not taken: r7 is 2^32-1
      asm.mov64(R2, 7),
      ...flag(4, asm.jgt32(R7, R2, 'e'), 'e'), //          taken (unsigned)
      ...flag(5, asm.jsgt32(R7, R2, 'f'), 'f'), //         not taken (signed -1 > 7)
      ...flag(6, asm.jset32(R7, 0x100, 'g'), 'g'), //      taken
      // gotol forward, then backward (32-bit offsets): r1 = 1 reaches slot 7 only through both.
      asm.mov64(R1, 0),
      asm.gotol('h2'),
      asm.label('h1'),
      put(7),
      asm.ja('h3'),
      asm.label('h2'),
      asm.mov64(R1, 1),
      asm.gotol('h1'),
      asm.label('h3'),
    ]),
  );
  assert.deepEqual((m.lookup(0) as bigint[]).slice(0, 8), [1n, 0n, 1n, 0n, 1n, 0n, 1n, 1n]);
});

test('atomics with and without fetch, xchg and cmpxchg on a map value', () => {
  using m = results();
  const base = 16;
  run(
    withResults(m, [
      asm.stdw(R6, base * 8, 10),
      asm.mov64(R1, 5),
      asm.atomicFetchAdd64(R6, base * 8, R1),
      put(0), //       old 10, mem 15
      asm.mov64(R1, 100),
      asm.atomicAdd64(R6, base * 8, R1), //                  mem 115
      asm.mov64(R1, 0x40),
      asm.atomicFetchOr64(R6, base * 8, R1),
      put(1), //     old 115, mem 115|64 = 115
      asm.mov64(R1, 999),
      asm.xchg64(R6, base * 8, R1),
      put(2), //               old 115, mem 999
      asm.mov64(R0, 999),
      asm.mov64(R1, 7),
      asm.cmpxchg64(R6, base * 8, R1),
      asm.mov64(R1, R0),
      put(3), // success: old 999, mem 7
      asm.mov64(R0, 1),
      asm.mov64(R1, 8),
      asm.cmpxchg64(R6, base * 8, R1),
      asm.mov64(R1, R0),
      put(4), //   failure: old 7, mem 7
      asm.stw(R6, (base + 1) * 8, 0xff),
      asm.mov32(R1, 0x0f),
      asm.atomicFetchAnd32(R6, (base + 1) * 8, R1),
      put(5), //  old 0xff, mem 0x0f
      asm.mov32(R1, 0x3),
      asm.atomicFetchXor32(R6, (base + 1) * 8, R1),
      put(6), //   old 0x0f, mem 0x0c
      asm.mov32(R1, 0x30),
      asm.atomicOr32(R6, (base + 1) * 8, R1), //                mem 0x3c
      asm.mov32(R1, 1),
      asm.xchg32(R6, (base + 1) * 8, R1),
      put(7), //               old 0x3c
      asm.mov32(R1, 2),
      asm.atomicFetchAdd32(R6, (base + 1) * 8, R1),
      put(8), //     old 1, mem 3
    ]),
  );
  const v = m.lookup(0) as bigint[];
  assert.deepEqual(v.slice(0, 9), [10n, 115n, 115n, 999n, 7n, 0xffn, 0x0fn, 0x3cn, 1n]);
  assert.equal(v[base], 7n);
  assert.equal(v[base + 1], 3n);
});

test('bpf-to-bpf calls (BPF_PSEUDO_CALL): nested subprograms with their own frames', () => {
  using m = results();
  const retval = run(
    [
      asm.mov64(R1, 12),
      asm.callLabel('square'),
      asm.mov64(R7, R0), //                                  144
      asm.mov64(R1, R7),
      asm.mov64(R2, 5),
      asm.callLabel('add_and_record'), //                    records 149 in the results map, returns 149
      asm.exit(),

      asm.label('square'),
      asm.mov64(R0, R1),
      asm.mul64(R0, R1),
      asm.exit(),

      asm.label('add_and_record'),
      asm.add64(R1, R2),
      asm.stxdw(R10, -8, R1), //                             this frame's own stack
      asm.stw(R10, -12, 0),
      asm.ldMapFd(R1, 'results'),
      asm.mov64(R2, R10),
      asm.add64(R2, -12),
      asm.call('map_lookup_elem'),
      asm.ldxdw(R1, R10, -8),
      asm.jeq(R0, 0, 'no-map'),
      asm.stxdw(R0, 0, R1),
      asm.label('no-map'),
      asm.mov64(R0, R1),
      asm.exit(),
    ],
    'socket_filter',
    { results: m },
  );
  assert.equal(retval, 149);
  assert.equal((m.lookup(0) as bigint[])[0], 149n);
});

test('BPF_PSEUDO_FUNC callbacks load and run (Program.load generates the BTF func_info they need)', () => {
  // bpf_loop returns the number of iterations: 5 means the verifier took our src_reg=4 form as a
  // function reference to a real subprogram and the kernel called it.
  assert.equal(
    run([
      asm.mov64(R1, 5),
      asm.ldFunc(R2, 'cb'),
      asm.mov64(R3, 0),
      asm.mov64(R4, 0),
      asm.call('loop'),
      asm.exit(),
      asm.label('cb'),
      asm.mov64(R0, 0),
      asm.exit(),
    ]),
    5,
  );
});

test('ld_imm64 map references: map fd by object and by name, direct map value access', () => {
  using m = results();
  using g = BpfMap.create({ type: 'array', key: t.u32, value: t.array(t.u64, 4), maxEntries: 1 });
  const retval = run(
    [
      asm.ldMapValue(R1, 'globals', 16), //                 &globals[0].value + 16
      asm.stdw(R1, 0, 77),
      asm.ldMapValue(R2, g, 0),
      asm.ldxdw(R0, R2, 16), //                              read it back through a second reference
      asm.exit(),
    ],
    'socket_filter',
    { globals: g },
  );
  assert.equal(retval, 77);
  assert.deepEqual(g.lookup(0), [0n, 0n, 77n, 0n]);
  assert.equal(
    run(withResults('results' as never, [asm.mov64(R1, 31337), put(0)]), 'socket_filter', { results: m }),
    0,
  );
  assert.equal((m.lookup(0) as bigint[])[0], 31337n);
});

test('legacy ld_abs/ld_ind read packet bytes in network order', () => {
  const data = new Uint8Array(64);
  data.set([0x45, 0x00, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef], 14);
  using p = Program.load({
    type: 'socket_filter',
    instructions: [
      asm.mov64(R6, R1), //                                 ld_abs/ld_ind take the skb in R6
      asm.ldAbs('h', 2),
      asm.mov64(R7, R0), //             0x1234 (offsets from the network header)
      asm.mov64(R2, 4),
      asm.ldInd('w', R2, 0), //          0xdeadbeef
      asm.xor64(R0, R7),
      asm.exit(),
    ],
  });
  // The Ethernet header is consumed by eth_type_trans; type 0x0800 makes this an IPv4 packet.
  data.set([0x08, 0x00], 12);
  assert.equal(p.testRun({ data }).retval, (0xdeadbeef ^ 0x1234) >>> 0);
});

test('seed Lab 12.2: the zero-copy, batched and copy-based collectors load and write events', () => {
  using ring = BpfMap.create({ type: 'ringbuf', maxEntries: 256 * 1024 });
  for (const build of [zeroCopyProgram, batchedZeroCopyProgram, copyBasedProgram]) {
    using p = Program.load({ type: 'raw_tracepoint', instructions: build(ring) });
    assert.equal(p.testRun({ ctx: new Uint8Array(8), repeat: 0, ctxOutSize: 0 }).retval, 0, build.name);
  }
  // Each submitted record is an 8-byte header plus the 32-byte event; ask the kernel how much is queued.
  using q = Program.load({
    type: 'raw_tracepoint',
    instructions: [asm.ldMapFd(R1, ring), asm.mov64(R2, 0), asm.call('ringbuf_query'), asm.exit()], // BPF_RB_AVAIL_DATA
  });
  const avail = q.testRun({ ctx: new Uint8Array(8), repeat: 0, ctxOutSize: 0 }).retval;
  // zero-copy and copy-based submit; batched submits only when the test runner's PID is >= 1000.
  assert.ok(avail === 2 * (8 + EVENT_SIZE) || avail === 3 * (8 + EVENT_SIZE), `ring holds ${avail} bytes`);
});

test('seed Lab 12.1: the optimized and ultra XDP counters count TCP/UDP/ICMP/other per CPU', () => {
  using stats = BpfMap.create({ type: 'percpu_array', key: t.u32, value: UltraStats, maxEntries: 1 });
  using byProto = BpfMap.create({ type: 'percpu_array', key: t.u32, value: t.u64, maxEntries: 256 });
  using ultra = Program.load({ type: 'xdp', instructions: ultraPacketCounter(stats) });
  using optimized = Program.load({ type: 'xdp', instructions: optimizedPacketCounter(byProto) });
  const packet = (etherType: number, proto: number) => {
    const d = new Uint8Array(64);
    d[12] = etherType >> 8;
    d[13] = etherType & 0xff;
    d[14] = 0x45;
    d[23] = proto;
    return d;
  };
  const runs: [number, number, number][] = [
    [0x0800, 6, 3],
    [0x0800, 17, 2],
    [0x0800, 1, 1],
    [0x0800, 47, 4],
    [0x86dd, 6, 5],
  ];
  for (const [et, proto, n] of runs) {
    assert.equal(ultra.testRun({ data: packet(et, proto), repeat: n }).retval, XDP.pass);
    assert.equal(optimized.testRun({ data: packet(et, proto), repeat: n }).retval, XDP.pass);
  }
  const perCpu = stats.lookup(0) as { tcp: bigint; udp: bigint; icmp: bigint; other: bigint }[];
  const sum = (k: 'tcp' | 'udp' | 'icmp' | 'other') => perCpu.reduce((a, v) => a + v[k], 0n);
  assert.deepEqual([sum('tcp'), sum('udp'), sum('icmp'), sum('other')], [3n, 2n, 1n, 4n]);
  const proto = (p: number) => (byProto.lookup(p) as bigint[]).reduce((a, v) => a + v, 0n);
  assert.deepEqual([proto(6), proto(17), proto(1), proto(47)], [3n, 2n, 1n, 4n]);
});
