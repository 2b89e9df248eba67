/**
 * Lab 12.1 (high-performance packet counter): the seed's naive, optimized and ultra XDP counters,
 * written with tsbpf's assembler almost line for line. The programs are defined once, in
 * `src/labs/packet-counter-programs.ts` (read it side by side with the seed; the two verifier-required
 * departures are commented there), and shared with `tsbpf count packets` and the `xdp` bench suite.
 *
 * Run it (root or CAP_BPF): `node --import tsx examples/lab12-1-ultra.ts`. It loads the three
 * counters, test-runs a small packet mix through each and prints the per-protocol counts.
 */
import { pathToFileURL } from 'node:url';
import { BpfMap, Program, t, XDP } from 'tsbpf';
import { naivePacketCounter, optimizedPacketCounter, ultraPacketCounter } from '../src/labs/packet-counter-programs.js';

export { naivePacketCounter, optimizedPacketCounter, ultraPacketCounter, XDP };

/**
 * The ultra counter's value as the seed declares it, `{tcp:u64, udp:u64, icmp:u64, other:u64}`,
 * decoded as bigint. Same bytes as the CLI's `UltraStats`, which decodes them as numbers.
 */
export const UltraStats = t.struct({ tcp: t.u64, udp: t.u64, icmp: t.u64, other: t.u64 });

/** The mix test-run below: [name, EtherType, IP protocol, frames]. */
const MIX: readonly [string, number, number, number][] = [
  ['TCP/IPv4', 0x0800, 6, 3],
  ['UDP/IPv4', 0x0800, 17, 2],
  ['ICMP/IPv4', 0x0800, 1, 1],
  ['GRE/IPv4', 0x0800, 47, 4],
  ['TCP/IPv6', 0x86dd, 6, 5],
];

/** A 64-byte frame carrying just what the counters read: EtherType (12) and IPv4 protocol (23). */
function frame(etherType: number, proto: number): Uint8Array {
  const d = new Uint8Array(64);
  d[12] = etherType >> 8;
  d[13] = etherType & 0xff;
  d[14] = 0x45;
  d[23] = proto;
  return d;
}

function main(): void {
  using naiveCounterMap = BpfMap.create({
    type: 'hash',
    key: t.u32,
    value: t.u64,
    maxEntries: 256,
    name: 'naive_counter',
  });
  using optimizedStatsMap = BpfMap.create({
    type: 'percpu_array',
    key: t.u32,
    value: t.u64,
    maxEntries: 256,
    name: 'optimized_stats',
  });
  using ultraStatsMap = BpfMap.create({
    type: 'percpu_array',
    key: t.u32,
    value: UltraStats,
    maxEntries: 1,
    name: 'ultra_stats',
  });
  using naive = Program.load({ type: 'xdp', name: 'naive_counter', instructions: naivePacketCounter(naiveCounterMap) });
  using optimized = Program.load({
    type: 'xdp',
    name: 'optimized_count',
    instructions: optimizedPacketCounter(optimizedStatsMap),
  });
  using ultra = Program.load({ type: 'xdp', name: 'ultra_counter', instructions: ultraPacketCounter(ultraStatsMap) });

  const action = (code: number) => Object.entries(XDP).find(([, v]) => v === code)?.[0] ?? String(code);
  for (const [name, etherType, proto, n] of MIX) {
    const data = frame(etherType, proto);
    const rets = [naive, optimized, ultra].map((p) => action(p.testRun({ data, repeat: n }).retval));
    console.log(`${name.padEnd(10)} x${n}: naive ${rets[0]}, optimized ${rets[1]}, ultra ${rets[2]}`);
  }

  const byProto = (p: number, m: BpfMap) => Number(m.type === 'hash' ? (m.lookup(p) ?? 0n) : (m.sum(p) ?? 0));
  const [tcp, udp, icmp, gre] = [6, 17, 1, 47];
  console.log(
    `naive:     tcp ${byProto(tcp, naiveCounterMap)}, udp ${byProto(udp, naiveCounterMap)}, icmp ${byProto(icmp, naiveCounterMap)}, gre ${byProto(gre, naiveCounterMap)}`,
  );
  console.log(
    `optimized: tcp ${byProto(tcp, optimizedStatsMap)}, udp ${byProto(udp, optimizedStatsMap)}, icmp ${byProto(icmp, optimizedStatsMap)}, gre ${byProto(gre, optimizedStatsMap)}`,
  );
  const s = ultraStatsMap.sum(0) as { tcp: bigint; udp: bigint; icmp: bigint; other: bigint };
  console.log(`ultra:     tcp ${s.tcp}, udp ${s.udp}, icmp ${s.icmp}, other ${s.other}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
