/**
 * Traffic for the `xdp` suite: a realistic packet mix (TCP/UDP/ICMP/other IPv4, IPv6, ARP), one
 * template frame per class for test-run, an in-kernel generator program that stamps the mix onto
 * live frames (test-run with BPF_F_TEST_XDP_LIVE_FRAMES, returning XDP_TX), and readers that total
 * the Lab 12.1 counters' maps the same way for every variant.
 */
import { asm, R0, R1, R2, R3, R4, R5, R6, R7, R10, type AsmInput, type AsmItem, type MapRef } from 'tsbpf';
import { t } from 'tsbpf';
import { XDP } from 'tsbpf';
import { BpfMap, HashMap, PerCpuArray, type MapSpec } from 'tsbpf';
import { COUNTER_MAPS, UltraStats, XDP_MD, type CounterVariant } from '../labs/packet-counter-programs.js';

/** One traffic class of the mix. `proto` is the IPv4 protocol (undefined when not IPv4). */
export interface TrafficClass {
  name: string;
  /** Share of the mix, in percent (all classes sum to 100). */
  percent: number;
  etherType: number;
  proto?: number;
}

/**
 * The mix: mostly TCP and UDP, a little ICMP and other IPv4 (GRE), some IPv6 and ARP — a typical
 * edge-router blend, so the non-IPv4 early exits are exercised too.
 */
export const TRAFFIC_MIX: readonly TrafficClass[] = [
  { name: 'TCP/IPv4', percent: 60, etherType: 0x0800, proto: 6 },
  { name: 'UDP/IPv4', percent: 25, etherType: 0x0800, proto: 17 },
  { name: 'ICMP/IPv4', percent: 5, etherType: 0x0800, proto: 1 },
  { name: 'GRE/IPv4', percent: 2, etherType: 0x0800, proto: 47 },
  { name: 'TCP/IPv6', percent: 6, etherType: 0x86dd },
  { name: 'ARP', percent: 2, etherType: 0x0806 },
];

/** A 64-byte frame (60 + FCS the NIC would add) of the given class, with plausible headers. */
export function templateFrame(c: TrafficClass, size = 64): Uint8Array {
  const f = new Uint8Array(size);
  const v = new DataView(f.buffer);
  f.set([0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01], 0); // dst, src MAC (locally administered)
  v.setUint16(12, c.etherType);
  if (c.etherType === 0x0800) {
    f[14] = 0x45; // IPv4, IHL 5
    v.setUint16(16, size - 14); // total length
    f[22] = 64; // TTL
    f[23] = c.proto!;
    f.set([10, 0, 0, 1, 10, 0, 0, 2], 26); // src, dst
    v.setUint16(34, 40000);
    v.setUint16(36, c.proto === 6 ? 443 : 53); // ports (ICMP: type/code bytes)
  } else if (c.etherType === 0x86dd) {
    f[14] = 0x60;
    v.setUint16(18, size - 54); // payload length
    f[20] = 6; // next header TCP
    f[21] = 64;
  } else if (c.etherType === 0x0806) {
    v.setUint16(14, 1);
    v.setUint16(16, 0x0800);
    f[18] = 6;
    f[19] = 4;
    v.setUint16(20, 1); // ARP request
  }
  return f;
}

/** The class of the n-th generated frame (n ≥ 1), as the generator program picks it: by n % 100. */
export function classOfFrame(n: number): TrafficClass {
  let k = n % 100;
  for (const c of TRAFFIC_MIX) {
    if (k < c.percent) return c;
    k -= c.percent;
  }
  throw new Error('unreachable: TRAFFIC_MIX sums to 100');
}

/** How many of frames 1..n fall into each class (exact, as the generator stamps them). */
export function expectedClassCounts(n: number): Map<string, number> {
  const out = new Map<string, number>(TRAFFIC_MIX.map((c) => [c.name, 0]));
  const full = Math.floor(n / 100);
  for (const c of TRAFFIC_MIX) out.set(c.name, full * c.percent);
  for (let i = full * 100 + 1; i <= n; i++) {
    const c = classOfFrame(i);
    out.set(c.name, out.get(c.name)! + 1);
  }
  return out;
}

/** Map spec of the generator's per-CPU frame sequence number. */
export const GENERATOR_SEQ_MAP = { type: 'percpu_array', keySize: 4, valueSize: 8, maxEntries: 1 } as const;

/**
 * The generator: bumps a per-CPU sequence number, stamps EtherType and IPv4 protocol of class
 * `seq % 100` onto the frame, and returns XDP_TX (in live test-run mode: transmit on the ingress
 * device, i.e. to the veth peer).
 */
export function generatorProgram(seqMap: MapRef): AsmItem[] {
  const items: AsmItem[] = [
    asm.movReg(R6, R1),
    asm.mov(R1, 0),
    asm.storeMem('w', R10, -4, R1),
    asm.ldMapFd(R1, seqMap),
    asm.movReg(R2, R10),
    asm.add(R2, -4),
    asm.call('map_lookup_elem'),
    asm.jmpImm('jeq', R0, 0, 'tx'),
    asm.loadMem('dw', R7, R0, 0),
    asm.add(R7, 1),
    asm.storeMem('dw', R0, 0, R7),
    asm.mod(R7, 100),
    // The call clobbered R1: read data/data_end through the saved context in R6.
    asm.ldxw(R2, R6, XDP_MD.data),
    asm.ldxw(R3, R6, XDP_MD.dataEnd),
    asm.movReg(R1, R2),
    asm.add(R1, 34),
    asm.jmpReg('jgt', R1, R3, 'tx'),
  ];
  let upto = 0;
  TRAFFIC_MIX.forEach((c, i) => {
    upto += c.percent;
    const label = `class${i}`;
    const next = `class${i + 1}`;
    items.push(asm.label(label));
    if (i < TRAFFIC_MIX.length - 1) items.push(asm.jmpImm('jge', R7, upto, next));
    // EtherType in network order: store the byte-swapped value as a little-endian u16.
    items.push(asm.storeMem('h', R2, 12, ((c.etherType & 0xff) << 8) | (c.etherType >> 8)));
    if (c.proto !== undefined) items.push(asm.storeMem('b', R2, 23, c.proto));
    items.push(asm.jmp('tx'));
  });
  items.push(asm.label('tx'), asm.mov(R0, XDP.tx), asm.exit());
  return items;
}

/** A trivial counter-less XDP program returning `action`: the setup's ceiling. */
export function returnOnlyProgram(action: number): AsmItem[] {
  return [asm.mov(R0, action), asm.exit()];
}

/**
 * A counter-less XDP program that reads what every counter reads first (EtherType and the IPv4
 * protocol byte, after the same bounds check) and returns `action`. When frames are made on one
 * CPU and handled on another, this first touch of the packet costs a cross-CPU cache miss that
 * the empty program never pays; over this baseline a counter's remaining cost is its own.
 */
export function headerReadProgram(action: number): AsmItem[] {
  return [
    asm.loadCtx('w', R2, XDP_MD.data),
    asm.loadCtx('w', R3, XDP_MD.dataEnd),
    asm.mov(R0, action),
    asm.movReg(R1, R2),
    asm.add(R1, 34), // Ethernet + IPv4 header, as the counters check
    asm.jmpReg('jgt', R1, R3, 'out'),
    asm.ldxh(R4, R2, 12), // EtherType
    asm.ldxb(R5, R2, 23), // IPv4 protocol
    asm.add(R4, R5), // used, so the loads are not dead code to any later optimiser
    asm.label('out'),
    asm.exit(),
  ];
}

/**
 * The same program returning `action` on every path: each `r0 = imm` right before an `exit` is
 * rewritten. The bench's live PASS and DROP rows use it on the Lab 12.1 counters.
 */
export function withAction(program: AsmInput, action: number): AsmItem[] {
  const items = ([program] as unknown[]).flat(Infinity) as AsmItem[];
  return items.map((it, i) => {
    const next = items[i + 1];
    const isMovR0Imm = it.kind === 'insn' && it.code === 0xb7 && it.dst === 0;
    const nextIsExit = next?.kind === 'insn' && next.code === 0x95;
    return isMovR0Imm && nextIsExit ? asm.mov(R0, action) : it;
  });
}

/** The Lab 12.1 counters' value layouts, for typed map creation. */
export const COUNTER_LAYOUTS = {
  naive: { key: t.u32, value: t.u64 },
  optimized: { key: t.u32, value: t.u64 },
  ultra: { key: t.u32, value: UltraStats },
} as const;

/** A fresh, typed map for `variant`'s counter: the lab's map type and size, the layouts above. */
export function createCounterMap(variant: CounterVariant, name: string): BpfMap {
  const spec = COUNTER_MAPS[variant];
  const create: MapSpec = { type: spec.type, ...COUNTER_LAYOUTS[variant], maxEntries: spec.maxEntries, name };
  return BpfMap.create(create);
}

/** Totals by protocol (TCP, UDP, ICMP, other IPv4) from any variant's map. */
export interface CounterTotals {
  tcp: number;
  udp: number;
  icmp: number;
  other: number;
  total: number;
}

/** Reads a counter map (created with {@link COUNTER_LAYOUTS}) into protocol totals. */
export function readCounters(variant: CounterVariant, map: BpfMap): CounterTotals {
  const out = { tcp: 0, udp: 0, icmp: 0, other: 0, total: 0 };
  const add = (proto: number, n: number) => {
    if (proto === 6) out.tcp += n;
    else if (proto === 17) out.udp += n;
    else if (proto === 1) out.icmp += n;
    else out.other += n;
    out.total += n;
  };
  if (variant === 'ultra') {
    const s = PerCpuArray.from(map, { value: UltraStats }).sumFields(0);
    if (s) {
      add(6, Number(s.tcp));
      add(17, Number(s.udp));
      add(1, Number(s.icmp));
      add(255, Number(s.other));
    }
  } else if (variant === 'optimized') {
    for (let p = 0; p < 256; p++) {
      const n = PerCpuArray.from<bigint>(map).sum(p) ?? 0;
      if (n) add(p, n);
    }
  } else {
    for (let p = 0; p < 256; p++) {
      const v = HashMap.from<number, bigint>(map).lookup(p);
      if (v !== undefined) add(p, Number(v));
    }
  }
  return out;
}

/** Expected totals for frames whose classes are counted in `classes`. */
export function expectedTotals(counts: Map<string, number>): CounterTotals {
  const get = (n: string) => counts.get(n) ?? 0;
  const out = { tcp: get('TCP/IPv4'), udp: get('UDP/IPv4'), icmp: get('ICMP/IPv4'), other: get('GRE/IPv4'), total: 0 };
  out.total = out.tcp + out.udp + out.icmp + out.other;
  return out;
}
