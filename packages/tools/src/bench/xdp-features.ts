/**
 * The packet counter's features in the `xdp` suite: what bytes, per-flow statistics and sampling cost
 * per packet over the same counter without them, how flows behave when they outnumber the table, how
 * close a sampled estimate comes to the exact count, and (`--counters`) cycles and instructions per
 * packet from the CPU's performance counters — or, where the machine has no PMU, software counters.
 *
 * Method: BPF_PROG_TEST_RUN of each program over the same TCP/IPv4 frame. The kernel reports whole
 * nanoseconds per run, too coarse for a 1–2 ns difference, so each program runs R and 2R packets and the
 * per-packet cost is (time(2R) − time(R)) / R on this thread's task clock (CPU time: preemption by other
 * processes does not count; the fixed cost of entering the test-run cancels). Programs are interleaved
 * and the median over repeats is reported with its spread.
 *
 * Non-live XDP test-runs reuse one packet buffer for every repetition, so a short prefix that bumps the
 * TCP source port (modulo K) before the counter makes each run a different flow: K flows cycle through
 * the flow table. Every program measured, the baseline included, carries the same prefix.
 */
import {
  asm,
  BpfMap,
  NotSupportedError,
  type LruPerCpuHash,
  type PerCpuArray,
  PerfCounter,
  Program,
  R1,
  R2,
  R3,
  R4,
  t,
  type AsmInput,
  type PerfCounterEvent,
} from 'tsbpf';
import {
  featuredPacketCounter,
  FlowKey,
  FlowValue,
  sampledEstimate,
  UltraBytesStats,
  type CounterFeatures,
} from '../labs/packet-counter-features.js';
import { UltraStats } from '../labs/packet-counter-programs.js';
import { median, spread, type BenchContext, type Chart, type Row } from './suite.js';
import { templateFrame, TRAFFIC_MIX } from './xdp-traffic.js';

/** What a features measurement adds to the `xdp` suite. */
export interface FeatureResults {
  rows: Row[];
  charts: Chart[];
  notes: string[];
  checks: Record<string, boolean>;
  extra: Record<string, unknown>;
}

/** Offset of the TCP source port in the template frame (Ethernet 14 + IPv4 20). */
const SPORT_OFF = 34;
/** The flow table size `tsbpf count packets --flows` uses by default. */
const FLOW_TABLE = 16384;
/** The bytes claim: the byte counters cost at most this much per packet over packets only. */
const BYTES_BUDGET_NS = 2;

/**
 * Bumps the frame's TCP source port by one, modulo `flows` (a power of two ≥ 2): one flow per run, K flows
 * in turn. R1 (ctx) is left for the counter that follows; R2..R4 are scratch.
 */
function flowSpreadPrefix(flows: number): AsmInput[] {
  if (flows < 2 || (flows & (flows - 1)) !== 0)
    throw new RangeError(`flow count must be a power of two ≥ 2, got ${flows}`);
  return [
    asm.ldxw(R2, R1, 0), //                             data
    asm.ldxw(R3, R1, 4), //                             data_end
    asm.mov64(R4, R2),
    asm.add64(R4, SPORT_OFF + 2),
    asm.jgt(R4, R3, 'spread-done'),
    asm.ldxh(R4, R2, SPORT_OFF),
    asm.add64(R4, 1),
    asm.and64(R4, flows - 1),
    asm.stxh(R2, SPORT_OFF, R4),
    asm.label('spread-done'),
  ];
}

interface Candidate {
  name: string;
  prog: Program;
  maps: BpfMap[];
  /** For flows: the flow map and its inserted counter. */
  flows?: { map: LruPerCpuHash<unknown, unknown>; inserted: PerCpuArray<number> };
  stats: PerCpuArray<{ tcp: number }>;
}

function build(name: string, features: CounterFeatures, spreadFlows: number, table = FLOW_TABLE): Candidate {
  const maps: BpfMap[] = [];
  try {
    const stats = BpfMap.create({
      type: 'percpu_array',
      key: t.u32,
      value: features.bytes ? UltraBytesStats : UltraStats,
      maxEntries: 1,
    });
    maps.push(stats);
    let flows: Candidate['flows'];
    if (features.flows) {
      const map = BpfMap.create({ type: 'lru_percpu_hash', key: FlowKey, value: FlowValue, maxEntries: table });
      maps.push(map);
      const inserted = BpfMap.create({ type: 'percpu_array', key: t.u32, value: t.u64num, maxEntries: 1 });
      maps.push(inserted);
      flows = { map, inserted };
    }
    const prog = Program.load({
      type: 'xdp',
      name: `feat_${name.replace(/[^a-z0-9]/gi, '_')}`.slice(0, 15),
      instructions: [
        ...flowSpreadPrefix(spreadFlows),
        ...featuredPacketCounter({ stats, flows: flows?.map, flowsInserted: flows?.inserted }, features),
      ],
    });
    return { name, prog, maps, flows, stats };
  } catch (e) {
    for (const m of maps) m.close();
    throw e;
  }
}

/** Per-packet cost of `prog` by the differential method on `counter`: (count(2R) − count(R)) / R. */
function perPacket(counter: PerfCounter, prog: Program, frame: Uint8Array, r: number): number {
  const one = counter.measure(() => prog.testRun({ data: frame, repeat: r, dataOutSize: 0 }));
  const two = counter.measure(() => prog.testRun({ data: frame, repeat: 2 * r, dataOutSize: 0 }));
  return (two - one) / r;
}

/** Opens the counters `--counters` asks for: cycles and instructions, or software counters without a PMU. */
function openCounters(): {
  counters: { label: string; unit: string; counter: PerfCounter }[];
  pmu: boolean;
  why?: string;
} {
  const hw: { event: PerfCounterEvent; label: string; unit: string }[] = [
    { event: { type: 'hardware', event: 'cpu-cycles' }, label: 'cycles', unit: 'cycles/packet' },
    { event: { type: 'hardware', event: 'instructions' }, label: 'instructions', unit: 'insns/packet' },
  ];
  const opened: { label: string; unit: string; counter: PerfCounter }[] = [];
  try {
    for (const h of hw) opened.push({ label: h.label, unit: h.unit, counter: PerfCounter.open(h.event) });
    return { counters: opened, pmu: true };
  } catch (e) {
    for (const o of opened) o.counter.close();
    if (!(e instanceof NotSupportedError)) throw e;
    const sw = [
      { label: 'task-clock', unit: 'ns/packet', counter: PerfCounter.open({ type: 'software', event: 'task-clock' }) },
      { label: 'cpu-clock', unit: 'ns/packet', counter: PerfCounter.open({ type: 'software', event: 'cpu-clock' }) },
    ];
    return { counters: sw, pmu: false, why: e.message };
  }
}

/** Measures the counter features; `hardwareCounters` adds the `--counters` rows. */
export function measureCounterFeatures(ctx: BenchContext, opts: { hardwareCounters?: boolean } = {}): FeatureResults {
  const rows: Row[] = [];
  const charts: Chart[] = [];
  const notes: string[] = [];
  const checks: Record<string, boolean> = {};
  const extra: Record<string, unknown> = {};
  const r = ctx.quick ? 200_000 : 1_000_000;
  const frame = templateFrame(TRAFFIC_MIX[0]!); // TCP/IPv4, 64 bytes
  const fits = 1024,
    overflow = 65536; // flows cycled: fits in the 16k table / 4× the table
  const sampleN = 100;

  const candidates: Candidate[] = [];
  const clock = PerfCounter.open({ type: 'software', event: 'task-clock' });
  try {
    candidates.push(build('packets only', {}, fits));
    candidates.push(build('+ bytes', { bytes: true }, fits));
    candidates.push(build(`+ flows (${fits} flows)`, { flows: true }, fits));
    candidates.push(build(`+ flows (${overflow} flows, ${FLOW_TABLE}-entry table)`, { flows: true }, overflow));
    candidates.push(build('+ bytes + flows', { bytes: true, flows: true }, fits));
    candidates.push(build(`sampled 1 in ${sampleN}`, { sampleEvery: sampleN }, fits));
    // Warm every program and fill the flow tables to their steady state before timing.
    for (const c of candidates) c.prog.testRun({ data: frame, repeat: 2 * overflow, dataOutSize: 0 });

    const samples = new Map<string, number[]>(candidates.map((c) => [c.name, []]));
    const total = ctx.repeats * candidates.length;
    let done = 0;
    for (let rep = 0; rep < ctx.repeats; rep++) {
      for (let i = 0; i < candidates.length; i++) {
        const c = candidates[(i + rep) % candidates.length]!;
        samples.get(c.name)!.push(perPacket(clock, c.prog, frame, r));
        ctx.progress(0.5 + 0.3 * (++done / total), `features: ${c.name}`);
      }
    }
    const base = samples.get('packets only')!;
    const baseMed = median(base);
    rows.push({
      name: 'counter features: packets only (ultra layout, test-run, TCP/IPv4)',
      value: baseMed,
      unit: 'ns/packet',
      spread: spread(base),
      verdict: 'info',
      note: `task-clock per packet, differential over ${r} and ${2 * r} packets; the same flow-spreading prefix as every row below`,
    });
    const delta = (name: string) => {
      const s = samples.get(name)!;
      return s.map((x, i) => x - base[i]!);
    };
    const bytesDelta = delta('+ bytes');
    rows.push({
      name: 'counter features: + bytes per protocol, cost over packets only',
      value: median(bytesDelta),
      unit: 'ns/packet',
      spread: spread(bytesDelta),
      claim: `≤ ${BYTES_BUDGET_NS} ns per packet over the packets-only counter (issue 17)`,
      verdict: median(bytesDelta) <= BYTES_BUDGET_NS ? 'holds' : 'does not hold',
      note: `${median(samples.get('+ bytes')!).toFixed(2)} vs ${baseMed.toFixed(2)} ns/packet`,
    });
    for (const name of [
      `+ flows (${fits} flows)`,
      `+ flows (${overflow} flows, ${FLOW_TABLE}-entry table)`,
      '+ bytes + flows',
      `sampled 1 in ${sampleN}`,
    ]) {
      const d = delta(name);
      rows.push({
        name: `counter features: ${name}, cost over packets only`,
        value: median(d),
        unit: 'ns/packet',
        spread: spread(d),
        verdict: 'info',
        note: `${median(samples.get(name)!).toFixed(2)} ns/packet in all`,
      });
    }
    charts.push({
      kind: 'bar',
      title: 'Packet counter features: ns per packet (test-run, task clock)',
      yLabel: 'ns/packet',
      labels: candidates.map((c) => c.name),
      series: [{ name: 'median', data: candidates.map((c) => median(samples.get(c.name)!)) }],
    });

    // Flow table behaviour: after the runs above, the fitting table holds every flow, the overflowing one is full.
    const flowState = (c: Candidate) => {
      const present = [...c.flows!.map.keys()].length;
      const inserted = c.flows!.inserted.sum(0) ?? 0;
      return { present, inserted, evicted: inserted - present };
    };
    const fitState = flowState(candidates[2]!);
    const overState = flowState(candidates[3]!);
    checks[`flow table holds all ${fits} flows when they fit, none evicted`] =
      fitState.present === fits && fitState.evicted === 0;
    checks[`flow table with ${overflow} flows over ${FLOW_TABLE} entries stays ≤ ${FLOW_TABLE} and counts evictions`] =
      overState.present <= FLOW_TABLE &&
      overState.evicted > 0 &&
      overState.inserted === overState.present + overState.evicted;
    rows.push({
      name: `counter features: flows present / inserted / evicted with ${overflow} flows cycling over a ${FLOW_TABLE}-entry LRU table`,
      value: overState.evicted,
      unit: 'evicted',
      verdict: 'info',
      note: `${overState.present} present, ${overState.inserted} inserted: ${((100 * overState.evicted) / Math.max(1, overState.inserted)).toFixed(1)}% of insertions evicted an older flow (a flow returns after ${overflow} packets, long after the LRU dropped it)`,
    });
    extra.flowTable = { fits: fitState, overflow: overState };

    // Sampling accuracy: a fresh sampled counter, exact packet count known, the estimate and its interval.
    const trials: { exact: number; estimate: number; low: number; high: number }[] = [];
    for (let i = 0; i < Math.max(5, ctx.repeats); i++) {
      const s = build(`sampling trial ${i}`, { sampleEvery: sampleN }, fits);
      try {
        s.prog.testRun({ data: frame, repeat: r, dataOutSize: 0 });
        const counted = s.stats.sumFields(0)?.tcp ?? 0;
        const e = sampledEstimate(counted, sampleN);
        trials.push({ exact: r, estimate: e.estimate, low: e.low, high: e.high });
      } finally {
        s.prog.close();
        for (const m of s.maps) m.close();
      }
    }
    const errors = trials.map((x) => (100 * (x.estimate - x.exact)) / x.exact);
    const covered = trials.filter((x) => x.low <= x.exact && x.exact <= x.high).length;
    rows.push({
      name: `counter features: sampled 1 in ${sampleN}, estimate error vs exact count (${r} packets)`,
      value: median(errors.map(Math.abs)),
      unit: '%',
      spread: spread(errors),
      verdict: 'info',
      note: `${covered} of ${trials.length} 95% intervals contain the exact count; interval half-width ±${((100 * 1.96 * Math.sqrt(r * (sampleN - 1))) / r).toFixed(2)}%`,
    });
    checks[`sampled estimates within 5 sigma of the exact count (1 in ${sampleN})`] = trials.every(
      (x) => Math.abs(x.estimate - x.exact) <= 5 * Math.sqrt(x.exact * (sampleN - 1)),
    );
    extra.sampling = trials;

    if (opts.hardwareCounters) {
      const { counters, pmu, why } = openCounters();
      try {
        if (!pmu)
          notes.push(
            `--counters: no hardware performance counters on this machine (${why}); software counters (task-clock, cpu-clock) instead.`,
          );
        for (const { label, unit, counter } of counters) {
          for (const c of candidates) {
            const xs: number[] = [];
            for (let rep = 0; rep < ctx.repeats; rep++) xs.push(perPacket(counter, c.prog, frame, r));
            rows.push({
              name: `${pmu ? 'hardware' : 'software'} counter ${label}: ${c.name}`,
              value: median(xs),
              unit,
              spread: spread(xs),
              verdict: 'info',
            });
          }
        }
        extra.hardwareCounters = pmu;
      } finally {
        for (const c of counters) c.counter.close();
      }
    }
    notes.push(
      `Counter features (${r} and ${2 * r} packets per measurement, differential task clock): bytes add a load, add and store per packet on the cache line the packet counter already dirtied; flows add a hash lookup keyed by the 5-tuple (and an insert for each new flow); sampling adds a bpf_get_prandom_u32() call and skips everything else for N−1 of N packets.`,
    );
  } finally {
    clock.close();
    for (const c of candidates) {
      c.prog.close();
      for (const m of c.maps) m.close();
    }
  }
  return { rows, charts, notes, checks, extra };
}
