/**
 * The packet counter's features (bytes per protocol, per-flow statistics, sampling) on real frames
 * through BPF_PROG_TEST_RUN: exact bytes, exact flow keys and counts, evictions when flows outnumber
 * the table, and a sampled count inside its confidence interval.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfMap, Program, t } from 'tsbpf';
import { UltraStats } from '../src/labs/packet-counter-programs.js';
import {
  featuredPacketCounter,
  FlowKey,
  FlowValue,
  ipv4FromWire,
  portsFromWire,
  sampledEstimate,
  sampleThreshold,
  UltraBytesStats,
  type CounterFeatures,
} from '../src/labs/packet-counter-features.js';

/** An Ethernet + IPv4 frame of `len` bytes: protocol, addresses, and for TCP/UDP the ports. */
function frame(
  len: number,
  proto: number,
  src: [number, number, number, number],
  dst: [number, number, number, number],
  sport = 0,
  dport = 0,
  ihl = 5,
): Uint8Array {
  const f = new Uint8Array(len);
  f.set([0x08, 0x00], 12);
  f[14] = 0x40 | ihl;
  f[23] = proto;
  f.set(src, 26);
  f.set(dst, 30);
  const l4 = 14 + ihl * 4;
  if (proto === 6 || proto === 17) {
    f[l4] = sport >> 8;
    f[l4 + 1] = sport & 0xff;
    f[l4 + 2] = dport >> 8;
    f[l4 + 3] = dport & 0xff;
  }
  return f;
}

function load(features: CounterFeatures, flowEntries = 1024) {
  const stats = BpfMap.create({
    type: 'percpu_array',
    key: t.u32,
    value: features.bytes ? UltraBytesStats : UltraStats,
    maxEntries: 1,
  });
  const flows = features.flows
    ? BpfMap.create({ type: 'lru_percpu_hash', key: FlowKey, value: FlowValue, maxEntries: flowEntries })
    : undefined;
  const inserted = features.flows
    ? BpfMap.create({ type: 'percpu_array', key: t.u32, value: t.u64num, maxEntries: 1 })
    : undefined;
  const prog = Program.load({
    type: 'xdp',
    name: 'pc_features',
    instructions: featuredPacketCounter({ stats, flows, flowsInserted: inserted }, features),
  });
  return {
    stats,
    flows,
    inserted,
    prog,
    run: (f: Uint8Array, repeat = 1) => assert.equal(prog.testRun({ data: f, repeat }).retval, 2),
    close() {
      prog.close();
      stats.close();
      flows?.close();
      inserted?.close();
    },
  };
}

test('with no feature the program counts exactly as ultra; with bytes it adds each frame length per protocol', () => {
  const plain = load({});
  const withBytes = load({ bytes: true });
  try {
    for (const c of [plain, withBytes]) {
      c.run(frame(60, 6, [10, 0, 0, 1], [10, 0, 0, 2], 1234, 80), 3);
      c.run(frame(100, 17, [10, 0, 0, 1], [10, 0, 0, 2], 5353, 53), 5);
      c.run(frame(98, 1, [10, 0, 0, 1], [10, 0, 0, 2]), 2);
      c.run(frame(70, 47, [10, 0, 0, 1], [10, 0, 0, 2]), 1); // GRE: other
      c.run(frame(60, 6, [10, 0, 0, 1], [10, 0, 0, 2]).slice(0, 20), 4); // runt: not counted
      const arp = frame(60, 0, [0, 0, 0, 0], [0, 0, 0, 0]);
      arp.set([0x08, 0x06], 12);
      c.run(arp, 4); // not IPv4: not counted
    }
    assert.deepEqual(plain.stats.sum(0), { tcp: 3, udp: 5, icmp: 2, other: 1 });
    assert.deepEqual(withBytes.stats.sum(0), {
      tcp: 3,
      udp: 5,
      icmp: 2,
      other: 1,
      tcpBytes: 180,
      udpBytes: 500,
      icmpBytes: 196,
      otherBytes: 70,
    });
  } finally {
    plain.close();
    withBytes.close();
  }
});

test('flows: one entry per 5-tuple with packets and bytes; ports only for TCP/UDP; IP options respected', () => {
  const c = load({ flows: true, bytes: true });
  try {
    c.run(frame(80, 17, [192, 168, 1, 10], [10, 1, 2, 3], 40000, 53), 7);
    c.run(frame(90, 6, [192, 168, 1, 10], [10, 1, 2, 3], 40001, 443), 2);
    c.run(frame(98, 1, [192, 168, 1, 11], [10, 1, 2, 3], 0, 0), 3);
    c.run(frame(120, 6, [172, 16, 0, 1], [10, 1, 2, 3], 5555, 22, 6), 4); // IHL 6: ports after 24 bytes of IP header
    const got = [...c.flows!.entries()]
      .map(([k, perCpu]) => {
        const { sport, dport } = portsFromWire(k.ports);
        const packets = (perCpu as { packets: number }[]).reduce((a, v) => a + v.packets, 0);
        const bytes = (perCpu as { bytes: number }[]).reduce((a, v) => a + v.bytes, 0);
        return `${ipv4FromWire(k.saddr)}:${sport}>${ipv4FromWire(k.daddr)}:${dport}/${k.protocol} ${packets}p ${bytes}b`;
      })
      .sort();
    assert.deepEqual(got, [
      '172.16.0.1:5555>10.1.2.3:22/6 4p 480b',
      '192.168.1.10:40000>10.1.2.3:53/17 7p 560b',
      '192.168.1.10:40001>10.1.2.3:443/6 2p 180b',
      '192.168.1.11:0>10.1.2.3:0/1 3p 294b',
    ]);
    assert.equal(c.inserted!.sum(0), 4);
  } finally {
    c.close();
  }
});

test('flows beyond the table are evicted (LRU) and counted: inserted − present', () => {
  const c = load({ flows: true }, 64);
  try {
    for (let i = 0; i < 300; i++) c.run(frame(64, 17, [10, 9, i >> 8, i & 0xff], [10, 0, 0, 1], 1000 + i, 9));
    const present = [...c.flows!.keys()].length;
    const inserted = c.inserted!.sum(0) as number;
    assert.equal(inserted, 300);
    assert.ok(present <= 64 && present > 0, `present ${present}`);
    assert.ok(inserted - present >= 236, `evicted ${inserted - present}`);
  } finally {
    c.close();
  }
});

test('sampling 1 in N counts about count/N, inside the 95% interval scaled out to 6 sigma', () => {
  const N = 16,
    total = 200_000;
  const c = load({ sampleEvery: N });
  try {
    c.run(frame(64, 17, [10, 0, 0, 1], [10, 0, 0, 2], 1, 2), total);
    const counted = (c.stats.sum(0) as { udp: number }).udp;
    const sigma = Math.sqrt(total * (1 / N) * (1 - 1 / N));
    assert.ok(Math.abs(counted - total / N) < 6 * sigma, `counted ${counted}, expected ${total / N} ± ${6 * sigma}`);
    const e = sampledEstimate(counted, N);
    assert.equal(e.estimate, counted * N);
    assert.ok(e.low < e.estimate && e.high > e.estimate);
  } finally {
    c.close();
  }
  assert.equal(sampleThreshold(2), 0x8000_0000);
  assert.throws(() => sampleThreshold(1), RangeError);
});
