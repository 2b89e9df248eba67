/**
 * The packet counter's optional features (the packet-counter lab's challenges): bytes per protocol,
 * per-flow statistics, probabilistic sampling. One program builder covers every combination, on the
 * ultra counter's layout (one per-CPU struct, an unrolled protocol switch); with no feature enabled
 * it counts exactly what ultra counts, so "feature cost" is always measured against the same code.
 *
 * - Bytes: the frame length (`data_end - data`, Ethernet header included) is added to a per-protocol
 *   byte counter next to each packet counter: four more loads, adds and stores on the same cache line.
 * - Flows: an LRU per-CPU hash keyed by the IPv4 5-tuple holds packets and bytes per flow. A new flow is
 *   inserted with BPF_NOEXIST and counted in a per-CPU "inserted" counter, so user space can tell
 *   evictions (inserted − present) when flows outnumber the table.
 * - Sampling: `bpf_get_prandom_u32() < 2^32 / N` admits one packet in N; everything counted is then an
 *   estimate (count × N) with a binomial confidence interval.
 */
import { asm, R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10, t, XDP, type AsmInput, type MapRef } from 'tsbpf';
import { XDP_MD } from './packet-counter-programs.js';

/** Which optional features a counter program has. */
export interface CounterFeatures {
  /** Count bytes per protocol next to packets. */
  bytes?: boolean;
  /** Count 1 packet in N (N ≥ 2; 1 or undefined counts every packet). */
  sampleEvery?: number;
  /** Keep per-flow packets and bytes. */
  flows?: boolean;
}

/** The per-CPU stats struct with byte counters: ultra's four packet counters, then four byte counters. */
export const UltraBytesStats = t.struct({
  tcp: t.u64num,
  udp: t.u64num,
  icmp: t.u64num,
  other: t.u64num,
  tcpBytes: t.u64num,
  udpBytes: t.u64num,
  icmpBytes: t.u64num,
  otherBytes: t.u64num,
});

/**
 * The flow key: addresses and ports exactly as on the wire (network byte order), the IP protocol, and
 * explicit padding (zeroed by the program, so equal flows hash equally).
 */
export const FlowKey = t.struct({ saddr: t.u32, daddr: t.u32, ports: t.u32, protocol: t.u8, pad: t.pad(3) });
/** Per-flow counters (per CPU in the map; summed when read). */
export const FlowValue = t.struct({ packets: t.u64num, bytes: t.u64num });

/** Ethernet + IPv4 header offsets used below. */
const ETH = { typeOff: 12, hdrLen: 14 } as const;
const IPV4 = { verIhlOff: 14, protoOff: 23, saddrOff: 26, daddrOff: 30, minHdrLen: 20, ethertype: 0x0800 } as const;
const PROTO = { icmp: 1, tcp: 6, udp: 17 } as const;
/** BPF_NOEXIST for map_update_elem. */
const BPF_NOEXIST = 1;

/** Stack slots (offsets from R10). */
const SLOT = { zeroKey: -4, flowKey: -24, flowValue: -40 } as const;

/** The threshold that admits one value of `bpf_get_prandom_u32()` in `n`: floor(2^32 / n). */
export function sampleThreshold(n: number): number {
  if (!Number.isInteger(n) || n < 2 || n > 0x7fffffff)
    throw new RangeError(`tsbpf: sampling needs an integer N from 2 to 2^31-1, got ${n}`);
  return Math.floor(0x1_0000_0000 / n);
}

/** The maps a featured counter program uses. */
export interface CounterFeatureMaps {
  /** percpu_array, 1 entry: {@link UltraBytesStats} with bytes, else ultra's 4-counter struct. */
  stats: MapRef;
  /** lru_percpu_hash {@link FlowKey} → {@link FlowValue} (with flows). */
  flows?: MapRef;
  /** percpu_array, 1 entry, u64: flows inserted (with flows). */
  flowsInserted?: MapRef;
}

/** The ultra counter with the requested features (see the module comment). */
export function featuredPacketCounter(maps: CounterFeatureMaps, features: CounterFeatures): AsmInput[] {
  const bytes = features.bytes === true;
  const flows = features.flows === true;
  const sampleEvery = features.sampleEvery ?? 1;
  if (flows && (!maps.flows || !maps.flowsInserted))
    throw new TypeError('tsbpf: a flow counter needs the flows and flowsInserted maps');
  // Ultra's four-counter struct is the first half of UltraBytesStats: the packet offsets are shared.
  const stats = UltraBytesStats;
  const pkt = (name: 'tcp' | 'udp' | 'icmp' | 'other') => stats.offsetOf(name);
  const byt = (name: 'tcp' | 'udp' | 'icmp' | 'other') => stats.offsetOf(`${name}Bytes`);
  const afterCount = flows ? 'flow' : 'pass';

  const countInto = (name: 'tcp' | 'udp' | 'icmp' | 'other'): AsmInput[] => [
    asm.loadMem('dw', R1, R0, pkt(name)),
    asm.add(R1, 1),
    asm.storeMem('dw', R0, pkt(name), R1),
    ...(bytes ? [asm.loadMem('dw', R1, R0, byt(name)), asm.add64(R1, R8), asm.storeMem('dw', R0, byt(name), R1)] : []),
  ];

  return [
    asm.movReg(R6, R1), //                               ctx survives helper calls in R6
    ...(sampleEvery > 1
      ? [
          asm.call('get_prandom_u32'),
          asm.jge32(R0, sampleThreshold(sampleEvery) | 0, 'pass'), // unsigned 32-bit compare: admit 1 in N
        ]
      : []),
    asm.loadMem('w', R2, R6, XDP_MD.data),
    asm.loadMem('w', R3, R6, XDP_MD.dataEnd),
    asm.movReg(R4, R2),
    asm.add(R4, ETH.hdrLen + IPV4.minHdrLen),
    asm.jmpReg('jgt', R4, R3, 'pass'),
    asm.loadMem('h', R9, R2, ETH.typeOff),
    asm.endianBe('h', R9),
    asm.jmpImm('jne', R9, IPV4.ethertype, 'pass'),
    asm.loadMem('b', R7, R2, IPV4.protoOff),
    ...(bytes || flows ? [asm.movReg(R8, R3), asm.sub64(R8, R2)] : []), // frame length

    ...(flows
      ? [
          // The 5-tuple key, built while the packet pointers are still live.
          asm.loadMem('w', R9, R2, IPV4.saddrOff),
          asm.storeMem('w', R10, SLOT.flowKey + FlowKey.offsetOf('saddr'), R9),
          asm.loadMem('w', R9, R2, IPV4.daddrOff),
          asm.storeMem('w', R10, SLOT.flowKey + FlowKey.offsetOf('daddr'), R9),
          asm.stw(R10, SLOT.flowKey + FlowKey.offsetOf('ports'), 0),
          asm.stw(R10, SLOT.flowKey + FlowKey.offsetOf('protocol'), 0), // protocol + padding
          asm.storeMem('b', R10, SLOT.flowKey + FlowKey.offsetOf('protocol'), R7),
          asm.jmpImm('jeq', R7, PROTO.tcp, 'ports'),
          asm.jmpImm('jne', R7, PROTO.udp, 'key-done'),
          asm.label('ports'),
          asm.loadMem('b', R9, R2, IPV4.verIhlOff),
          asm.and(R9, 0xf),
          asm.lsh(R9, 2), //                                 IHL × 4: 0..60
          asm.jmpImm('jlt', R9, IPV4.minHdrLen, 'key-done'),
          asm.movReg(R4, R2),
          asm.add(R4, ETH.hdrLen),
          asm.add64(R4, R9), //                              L4 header
          asm.movReg(R5, R4),
          asm.add(R5, 4),
          asm.jmpReg('jgt', R5, R3, 'key-done'),
          asm.loadMem('w', R9, R4, 0), //                    source and destination ports
          asm.storeMem('w', R10, SLOT.flowKey + FlowKey.offsetOf('ports'), R9),
          asm.label('key-done'),
        ]
      : []),

    asm.stw(R10, SLOT.zeroKey, 0),
    asm.ldMapFd(R1, maps.stats),
    asm.movReg(R2, R10),
    asm.add(R2, SLOT.zeroKey),
    asm.call('map_lookup_elem'),
    asm.jmpImm('jeq', R0, 0, afterCount),

    asm.jmpImm('jne', R7, PROTO.tcp, 'check-udp'),
    ...countInto('tcp'),
    asm.jmp(afterCount),
    asm.label('check-udp'),
    asm.jmpImm('jne', R7, PROTO.udp, 'check-icmp'),
    ...countInto('udp'),
    asm.jmp(afterCount),
    asm.label('check-icmp'),
    asm.jmpImm('jne', R7, PROTO.icmp, 'other'),
    ...countInto('icmp'),
    asm.jmp(afterCount),
    asm.label('other'),
    ...countInto('other'),

    ...(flows
      ? [
          asm.label('flow'),
          asm.ldMapFd(R1, maps.flows!),
          asm.movReg(R2, R10),
          asm.add(R2, SLOT.flowKey),
          asm.call('map_lookup_elem'),
          asm.jmpImm('jeq', R0, 0, 'new-flow'),
          asm.loadMem('dw', R1, R0, FlowValue.offsetOf('packets')),
          asm.add(R1, 1),
          asm.storeMem('dw', R0, FlowValue.offsetOf('packets'), R1),
          asm.loadMem('dw', R1, R0, FlowValue.offsetOf('bytes')),
          asm.add64(R1, R8),
          asm.storeMem('dw', R0, FlowValue.offsetOf('bytes'), R1),
          asm.jmp('pass'),
          asm.label('new-flow'),
          asm.stdw(R10, SLOT.flowValue + FlowValue.offsetOf('packets'), 1),
          asm.storeMem('dw', R10, SLOT.flowValue + FlowValue.offsetOf('bytes'), R8),
          asm.ldMapFd(R1, maps.flows!),
          asm.movReg(R2, R10),
          asm.add(R2, SLOT.flowKey),
          asm.movReg(R3, R10),
          asm.add(R3, SLOT.flowValue),
          asm.mov(R4, BPF_NOEXIST),
          asm.call('map_update_elem'),
          asm.jmpImm('jne', R0, 0, 'pass'), //               another CPU inserted it first: it counts there
          asm.stw(R10, SLOT.zeroKey, 0),
          asm.ldMapFd(R1, maps.flowsInserted!),
          asm.movReg(R2, R10),
          asm.add(R2, SLOT.zeroKey),
          asm.call('map_lookup_elem'),
          asm.jmpImm('jeq', R0, 0, 'pass'),
          asm.loadMem('dw', R1, R0, 0),
          asm.add(R1, 1),
          asm.storeMem('dw', R0, 0, R1),
        ]
      : []),

    asm.label('pass'),
    asm.mov(R0, XDP.pass),
    asm.exit(),
  ];
}

/** An IPv4 address stored as read from the packet by a little-endian 32-bit load, as dotted quad. */
export function ipv4FromWire(v: number): string {
  return `${v & 0xff}.${(v >>> 8) & 0xff}.${(v >>> 16) & 0xff}.${v >>> 24}`;
}

/** The source and destination ports of a key's `ports` word (both in network order on the wire). */
export function portsFromWire(v: number): { sport: number; dport: number } {
  const swap = (x: number) => ((x & 0xff) << 8) | (x >>> 8);
  return { sport: swap(v & 0xffff), dport: swap(v >>> 16) };
}

/** A 95% confidence interval for a count sampled 1 in `n`: estimate = count × n ± 1.96·sqrt(count·n·(n−1)). */
export function sampledEstimate(count: number, n: number): { estimate: number; low: number; high: number } {
  const estimate = count * n;
  const half = 1.96 * Math.sqrt(count * n * (n - 1));
  return { estimate, low: Math.max(0, Math.floor(estimate - half)), high: Math.ceil(estimate + half) };
}
