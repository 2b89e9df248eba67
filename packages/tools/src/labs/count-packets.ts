/**
 * Lab 12.1 as a tool: load one of the three XDP counters, attach it to an interface, and read the
 * per-protocol counts summed over CPUs. The CLI (`tsbpf count packets`) prints them every second
 * and optionally exports them to Prometheus.
 */
import type { Link } from 'tsbpf';
import { BpfMap } from 'tsbpf';
import { Program } from 'tsbpf';
import { t } from 'tsbpf';
import { COUNTER_MAPS, counterProgram, UltraStats, type CounterVariant } from './packet-counter-programs.js';

/** XDP attach mode: generic (skb) or driver (native). */
export type CounterMode = 'skb' | 'native';

/** IP protocol numbers with names (the rest show as `proto-N`). */
const PROTOCOL_NAMES: Record<number, string> = {
  1: 'icmp', 2: 'igmp', 4: 'ipip', 6: 'tcp', 17: 'udp', 41: 'ipv6', 47: 'gre', 50: 'esp', 51: 'ah', 58: 'ipv6-icmp', 89: 'ospf', 103: 'pim', 112: 'vrrp', 132: 'sctp', 136: 'udplite',
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
}

/** A loaded and attached packet counter. */
export class PacketCounter {
  readonly variant: CounterVariant;
  readonly iface: string;
  readonly mode: CounterMode;
  readonly #map: BpfMap;
  readonly #program: Program;
  readonly #link: Link;
  #closed = false;

  private constructor(opts: Required<PacketCounterOptions>, map: BpfMap, program: Program, link: Link) {
    this.variant = opts.variant;
    this.iface = opts.iface;
    this.mode = opts.mode;
    this.#map = map;
    this.#program = program;
    this.#link = link;
  }

  /** Creates the variant's map, loads its program and attaches it to `iface`. */
  static attach(opts: PacketCounterOptions): PacketCounter {
    const mode = opts.mode ?? 'skb';
    const spec = COUNTER_MAPS[opts.variant];
    const map = opts.variant === 'ultra'
      ? BpfMap.create({ type: spec.type, key: t.u32, value: UltraStats, maxEntries: spec.maxEntries, name: 'ultra_stats' })
      : BpfMap.create({ type: spec.type, key: t.u32, value: t.u64num, maxEntries: spec.maxEntries, name: opts.variant === "naive" ? "naive_counts" : "opt_counts" });
    let program: Program | undefined;
    try {
      program = Program.load({ type: 'xdp', name: `count_${opts.variant}`, instructions: counterProgram(opts.variant, map) });
      const link = program.attachXdp(opts.iface, { mode });
      return new PacketCounter({ iface: opts.iface, variant: opts.variant, mode }, map, program, link);
    } catch (e) {
      program?.close();
      map.close();
      throw e;
    }
  }

  /** The counts so far, summed over CPUs. */
  read(): ProtocolCounts {
    const out: ProtocolCounts = { tcp: 0, udp: 0, icmp: 0 };
    if (this.variant === 'ultra') {
      const s = this.#map.sum(0) as { tcp: number; udp: number; icmp: number; other: number } | undefined;
      return { tcp: s?.tcp ?? 0, udp: s?.udp ?? 0, icmp: s?.icmp ?? 0, other: s?.other ?? 0 };
    }
    if (this.variant === 'optimized') {
      // One batch read of all 256 slots; each value is one number per CPU.
      const { keys, values } = this.#map.lookupBatch();
      for (let i = 0; i < keys.length; i++) {
        const perCpu = values[i] as number[];
        let sum = 0;
        for (let c = 0; c < perCpu.length; c++) sum += perCpu[c]!;
        if (sum > 0 || out[protocolName(keys[i] as number)] !== undefined) out[protocolName(keys[i] as number)] = sum;
      }
      return out;
    }
    const { keys, values } = this.#map.lookupBatch();
    for (let i = 0; i < keys.length; i++) out[protocolName(keys[i] as number)] = values[i] as number;
    return out;
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
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Prometheus families for a counter's totals. */
export function packetMetrics(counter: { iface: string; variant: string; mode: string }, totals: ProtocolCounts, uptimeS: number) {
  const labels = { iface: counter.iface, variant: counter.variant };
  return [
    {
      name: 'tsbpf_packets_total', help: 'Packets seen by the XDP counter, summed over CPUs, by IP protocol (non-IPv4 frames are not counted).', type: 'counter' as const,
      samples: Object.entries(totals).map(([protocol, value]) => ({ labels: { ...labels, protocol }, value })),
    },
    {
      name: 'tsbpf_counter_uptime_seconds', help: 'Seconds since the counter was attached.', type: 'gauge' as const,
      samples: [{ labels: { ...labels, mode: counter.mode }, value: Math.round(uptimeS * 1000) / 1000 }],
    },
  ];
}
