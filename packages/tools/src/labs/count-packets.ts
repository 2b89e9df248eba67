/**
 * Lab 12.1 as a tool: load one of the three XDP counters, attach it to an interface, and read the
 * per-protocol counts summed over CPUs. The CLI (`tsbpf count packets`) prints them every second
 * and optionally exports them to Prometheus.
 */
import type { Link } from 'tsbpf';
import { BpfMap, HashMap, LruPerCpuHash, PerCpuArray, type Infer } from 'tsbpf';
import { Program } from 'tsbpf';
import { t } from 'tsbpf';
import { COUNTER_MAPS, counterProgram, UltraStats, type CounterVariant } from './packet-counter-programs.js';
import {
  featuredPacketCounter,
  FlowKey,
  FlowValue,
  ipv4FromWire,
  portsFromWire,
  UltraBytesStats,
  type CounterFeatures,
} from './packet-counter-features.js';

/** XDP attach mode: generic (skb) or driver (native). */
export type CounterMode = 'skb' | 'native';

/** IP protocol numbers with names (the rest show as `proto-N`). */
const PROTOCOL_NAMES: Record<number, string> = {
  1: 'icmp',
  2: 'igmp',
  4: 'ipip',
  6: 'tcp',
  17: 'udp',
  41: 'ipv6',
  47: 'gre',
  50: 'esp',
  51: 'ah',
  58: 'ipv6-icmp',
  89: 'ospf',
  103: 'pim',
  112: 'vrrp',
  132: 'sctp',
  136: 'udplite',
};

/** The display name of IP protocol `n`. */
export function protocolName(n: number): string {
  return PROTOCOL_NAMES[n] ?? `proto-${n}`;
}

/** Per-protocol packet counts. Always has tcp, udp, icmp; ultra also has other. */
export type ProtocolCounts = Record<string, number>;

/** Options of {@link PacketCounter.attach}. */
export interface PacketCounterOptions {
  iface: string;
  variant: CounterVariant;
  mode?: CounterMode;
  /** Count bytes per protocol too (ultra only). */
  bytes?: boolean;
  /** Count 1 packet in N, chosen with bpf_get_prandom_u32 (ultra only; N ≥ 2). */
  sampleEvery?: number;
  /** Keep per-flow statistics in an LRU per-CPU hash of this many entries (ultra only). */
  flows?: { maxEntries: number };
}

/** One flow's totals, summed over CPUs. */
export interface FlowStats {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  protocol: string;
  packets: number;
  bytes: number;
}

/** The flow table at one moment. */
export interface FlowTable {
  /** Flows present in the table. */
  flows: FlowStats[];
  /** Flows the program inserted since attach (summed over CPUs). */
  inserted: number;
  /** Flows the LRU evicted to make room: inserted − present. */
  evicted: number;
}

/** A loaded and attached packet counter. */
export class PacketCounter {
  readonly variant: CounterVariant;
  readonly iface: string;
  readonly mode: CounterMode;
  /** The optional features this counter was built with. */
  readonly features: Readonly<CounterFeatures>;
  readonly #map: BpfMap;
  readonly #program: Program;
  readonly #link: Link;
  readonly #flows: BpfMap | undefined;
  readonly #flowsInserted: BpfMap | undefined;
  #closed = false;

  private constructor(
    opts: { iface: string; variant: CounterVariant; mode: CounterMode },
    features: CounterFeatures,
    maps: BpfMap[],
    program: Program,
    link: Link,
  ) {
    this.variant = opts.variant;
    this.iface = opts.iface;
    this.mode = opts.mode;
    this.features = Object.freeze({ ...features });
    this.#map = maps[0]!;
    this.#flows = maps[1];
    this.#flowsInserted = maps[2];
    this.#program = program;
    this.#link = link;
  }

  /** Creates the variant's map, loads its program and attaches it to `iface`. */
  static attach(opts: PacketCounterOptions): PacketCounter {
    const mode = opts.mode ?? 'skb';
    const features: CounterFeatures = {
      bytes: opts.bytes === true,
      sampleEvery: opts.sampleEvery ?? 1,
      flows: opts.flows !== undefined,
    };
    if (features.bytes || features.flows || features.sampleEvery! > 1)
      return PacketCounter.#attachFeatured(opts, mode, features);
    const spec = COUNTER_MAPS[opts.variant];
    const map =
      opts.variant === 'ultra'
        ? BpfMap.create({
            type: spec.type,
            key: t.u32,
            value: UltraStats,
            maxEntries: spec.maxEntries,
            name: 'ultra_stats',
          })
        : BpfMap.create({
            type: spec.type,
            key: t.u32,
            value: t.u64num,
            maxEntries: spec.maxEntries,
            name: opts.variant === 'naive' ? 'naive_counts' : 'opt_counts',
          });
    let program: Program | undefined;
    try {
      program = Program.load({
        type: 'xdp',
        name: `count_${opts.variant}`,
        instructions: counterProgram(opts.variant, map),
      });
      const link = program.attachXdp(opts.iface, { mode });
      return new PacketCounter({ iface: opts.iface, variant: opts.variant, mode }, {}, [map], program, link);
    } catch (e) {
      program?.close();
      map.close();
      throw e;
    }
  }

  static #attachFeatured(opts: PacketCounterOptions, mode: CounterMode, features: CounterFeatures): PacketCounter {
    if (opts.variant !== 'ultra')
      throw new RangeError(`tsbpf: bytes, flows and sampling are built on the ultra counter, not ${opts.variant}`);
    const maps: BpfMap[] = [];
    let program: Program | undefined;
    try {
      maps.push(
        BpfMap.create({
          type: 'percpu_array',
          key: t.u32,
          value: features.bytes ? UltraBytesStats : UltraStats,
          maxEntries: 1,
          name: 'ultra_stats',
        }),
      );
      if (opts.flows) {
        maps.push(
          BpfMap.create({
            type: 'lru_percpu_hash',
            key: FlowKey,
            value: FlowValue,
            maxEntries: opts.flows.maxEntries,
            name: 'flows',
          }),
        );
        maps.push(
          BpfMap.create({ type: 'percpu_array', key: t.u32, value: t.u64num, maxEntries: 1, name: 'flows_inserted' }),
        );
      }
      program = Program.load({
        type: 'xdp',
        name: 'count_features',
        instructions: featuredPacketCounter({ stats: maps[0]!, flows: maps[1], flowsInserted: maps[2] }, features),
      });
      const link = program.attachXdp(opts.iface, { mode });
      return new PacketCounter({ iface: opts.iface, variant: opts.variant, mode }, features, maps, program, link);
    } catch (e) {
      program?.close();
      for (const m of maps) m.close();
      throw e;
    }
  }

  /** The counts so far, summed over CPUs. */
  read(): ProtocolCounts {
    const out: ProtocolCounts = { tcp: 0, udp: 0, icmp: 0 };
    if (this.variant === 'ultra') {
      const s = PerCpuArray.from<Infer<typeof UltraStats>>(this.#map).sumFields(0);
      // With sampling these are the sampled counts; see sampledEstimate() for the scaled estimate.
      return { tcp: s?.tcp ?? 0, udp: s?.udp ?? 0, icmp: s?.icmp ?? 0, other: s?.other ?? 0 };
    }
    if (this.variant === 'optimized') {
      // One batch read of all 256 slots; each value is one number per CPU.
      const { keys, values } = PerCpuArray.from<number>(this.#map).lookupBatch();
      for (let i = 0; i < keys.length; i++) {
        const perCpu = values[i]!;
        let sum = 0;
        for (let c = 0; c < perCpu.length; c++) sum += perCpu[c]!;
        if (sum > 0 || out[protocolName(keys[i]!)] !== undefined) out[protocolName(keys[i]!)] = sum;
      }
      return out;
    }
    const { keys, values } = HashMap.from<number, number>(this.#map).lookupBatch();
    for (let i = 0; i < keys.length; i++) out[protocolName(keys[i]!)] = values[i]!;
    return out;
  }

  /** Bytes per protocol so far, summed over CPUs (counters built with `bytes`). */
  readBytes(): ProtocolCounts {
    if (!this.features.bytes)
      throw new TypeError('tsbpf: this counter does not count bytes (attach it with bytes: true)');
    const s = PerCpuArray.from<Infer<typeof UltraBytesStats>>(this.#map).sumFields(0);
    return { tcp: s?.tcpBytes ?? 0, udp: s?.udpBytes ?? 0, icmp: s?.icmpBytes ?? 0, other: s?.otherBytes ?? 0 };
  }

  /** The flow table: every flow present (summed over CPUs), inserted and evicted counts (counters built with `flows`). */
  readFlows(): FlowTable {
    if (!this.#flows || !this.#flowsInserted)
      throw new TypeError('tsbpf: this counter keeps no flows (attach it with flows: { maxEntries })');
    const flows: FlowStats[] = [];
    for (const [key, perCpu] of LruPerCpuHash.from<Infer<typeof FlowKey>, Infer<typeof FlowValue>>(
      this.#flows,
    ).entries()) {
      let packets = 0,
        bytes = 0;
      for (const v of perCpu) {
        packets += v.packets;
        bytes += v.bytes;
      }
      const { sport, dport } = portsFromWire(key.ports);
      flows.push({
        src: ipv4FromWire(key.saddr),
        dst: ipv4FromWire(key.daddr),
        sport,
        dport,
        protocol: protocolName(key.protocol),
        packets,
        bytes,
      });
    }
    const inserted = PerCpuArray.from<number>(this.#flowsInserted).sum(0) ?? 0;
    return { flows, inserted, evicted: Math.max(0, inserted - flows.length) };
  }

  /** The attached program's kernel id (for `bpftool prog show id N`). */
  get programId(): number {
    return this.#program.info().id;
  }

  /** Detaches and unloads. Safe twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#link.close();
    this.#program.close();
    this.#map.close();
    this.#flows?.close();
    this.#flowsInserted?.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Prometheus families for a counter's totals (and bytes, when counted). */
export function packetMetrics(
  counter: { iface: string; variant: string; mode: string },
  totals: ProtocolCounts,
  uptimeS: number,
  bytes?: ProtocolCounts,
) {
  const labels = { iface: counter.iface, variant: counter.variant };
  return [
    ...(bytes
      ? [
          {
            name: 'tsbpf_bytes_total',
            help: 'Bytes of the frames seen by the XDP counter (Ethernet header included), summed over CPUs, by IP protocol.',
            type: 'counter' as const,
            samples: Object.entries(bytes).map(([protocol, value]) => ({ labels: { ...labels, protocol }, value })),
          },
        ]
      : []),
    {
      name: 'tsbpf_packets_total',
      help: 'Packets seen by the XDP counter, summed over CPUs, by IP protocol (non-IPv4 frames are not counted).',
      type: 'counter' as const,
      samples: Object.entries(totals).map(([protocol, value]) => ({ labels: { ...labels, protocol }, value })),
    },
    {
      name: 'tsbpf_counter_uptime_seconds',
      help: 'Seconds since the counter was attached.',
      type: 'gauge' as const,
      samples: [{ labels: { ...labels, mode: counter.mode }, value: Math.round(uptimeS * 1000) / 1000 }],
    },
  ];
}
