/**
 * `tsbpf bench helpers` — Chapter 16's helper cost table ("Very Low" … "High"), measured: ns per
 * call from a loop program under test-run, minus the same loop with an empty body. The seed's table
 * is an ordering, so each claimed tier is checked against the measured costs of the other tiers.
 */
import { asm, R1, R2, R3, R4, R6, R10, type AsmInput } from 'tsbpf';
import { BpfMap } from 'tsbpf';
import { Program } from 'tsbpf';
import { t } from 'tsbpf';
import { loadLoopProgram, loopContext, sampleLoop } from './loop-program.js';
import { median, spread, type BenchContext, type BenchSuite, type Chart, type Row, type SuiteResult } from './suite.js';

const TIERS = ['Very Low', 'Low', 'Medium', 'Medium-High', 'High', 'Very High'] as const;
type Tier = (typeof TIERS)[number];

interface HelperCase {
  name: string;
  tier?: Tier;
  note?: string;
  body: AsmInput;
}

const ENTRIES = 1024;

function cases(hash: BpfMap, array: BpfMap): HelperCase[] {
  const key = [asm.stxw(R10, -4, R6), asm.mov64(R2, R10), asm.add64(R2, -4)];
  const update = (m: BpfMap) => [
    asm.stxw(R10, -4, R6),
    asm.stxdw(R10, -16, R6),
    asm.ldMapFd(R1, m),
    asm.mov64(R2, R10),
    asm.add64(R2, -4),
    asm.mov64(R3, R10),
    asm.add64(R3, -16),
    asm.mov64(R4, 0),
    asm.call('map_update_elem'),
  ];
  return [
    {
      name: 'get_smp_processor_id',
      tier: 'Very Low',
      body: [asm.call('get_smp_processor_id')],
      note: 'the verifier inlines it into a per-CPU load',
    },
    {
      name: 'ktime_get_ns',
      tier: 'Low',
      body: [asm.call('ktime_get_ns')],
      note: 'in BPF this reads the kernel clocksource, not the vDSO; on a VM the clock read dominates',
    },
    {
      name: 'map_lookup_elem (array)',
      tier: 'Medium',
      body: [...key, asm.ldMapFd(R1, array), asm.call('map_lookup_elem')],
      note: 'inlined by the verifier: a bounds check and an add',
    },
    {
      name: 'map_lookup_elem (hash)',
      tier: 'Medium',
      body: [...key, asm.ldMapFd(R1, hash), asm.call('map_lookup_elem')],
    },
    { name: 'map_update_elem (array)', tier: 'Medium-High', body: update(array) },
    { name: 'map_update_elem (hash)', tier: 'Medium-High', body: update(hash) },
    {
      name: 'probe_read_kernel (8 bytes)',
      tier: 'High',
      body: [
        asm.stdw(R10, -8, 1),
        asm.mov64(R1, R10),
        asm.add64(R1, -16),
        asm.mov64(R2, 8),
        asm.mov64(R3, R10),
        asm.add64(R3, -8),
        asm.call('probe_read_kernel'),
      ],
    },
    { name: 'get_current_pid_tgid', body: [asm.call('get_current_pid_tgid')] },
    {
      name: 'get_current_comm (16 bytes)',
      body: [asm.mov64(R1, R10), asm.add64(R1, -16), asm.mov64(R2, 16), asm.call('get_current_comm')],
    },
    { name: 'get_current_task', body: [asm.call('get_current_task')] },
    { name: 'get_prandom_u32', body: [asm.call('get_prandom_u32')] },
  ];
}

async function run(ctx: BenchContext): Promise<SuiteResult> {
  const t0 = Date.now();
  const iterations = ctx.quick ? 20000 : 200000;
  const rounds = ctx.repeats;
  using _stats = Program.enableStats();
  using hash = BpfMap.create({ type: 'hash', key: t.u32, value: t.u64num, maxEntries: ENTRIES, name: 'helpers_hash' });
  using array = BpfMap.create({
    type: 'array',
    key: t.u32,
    value: t.u64num,
    maxEntries: ENTRIES,
    name: 'helpers_array',
  });
  const keys = Array.from({ length: ENTRIES }, (_, i) => i);
  hash.updateBatch(
    keys,
    keys.map((k) => k + 1000000),
  ); // the BPF update loop rewrites these to k
  const list = cases(hash, array);
  using base = loadLoopProgram({ body: [], mask: ENTRIES - 1, name: 'helper_base' });
  const progs = list.map((c) => loadLoopProgram({ body: c.body, mask: ENTRIES - 1, name: 'helper_cost' }));
  const samples: number[][] = list.map(() => []);
  const baseline: number[] = [];
  try {
    const lc = loopContext(iterations);
    sampleLoop(base, lc, iterations);
    for (const p of progs) sampleLoop(p, lc, iterations); // warm
    for (let r = 0; r < rounds; r++) {
      ctx.progress(r / rounds, `round ${r + 1}/${rounds}`);
      for (const [i, p] of progs.entries()) {
        // A fresh baseline next to each helper: both see the same moment of machine noise.
        const b = sampleLoop(base, lc, iterations).nsPerIteration;
        if (i === 0) baseline.push(b);
        samples[i]!.push(Math.max(0, sampleLoop(p, lc, iterations).nsPerIteration - b));
      }
    }
  } finally {
    for (const p of progs) p.close();
  }
  ctx.progress(1, 'done');
  const cost = list.map((_, i) => median(samples[i]!));
  const r1 = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
  const rows: Row[] = list.map((c, i) => {
    const row: Row = {
      name: c.name,
      value: r1(cost[i]!),
      unit: 'ns/call',
      spread: spread(samples[i]!).map((x) => r1(x)) as [number, number],
    };
    if (!c.tier) return { ...row, verdict: 'info', note: c.note ?? "not in the seed's table" };
    // The table is an ordering: a helper in a cheaper tier must not cost clearly more (10% + 1 ns slack).
    const tier = TIERS.indexOf(c.tier);
    const wrong = list.flatMap((o, j) => {
      if (!o.tier || j === i) return [];
      const ot = TIERS.indexOf(o.tier);
      if (ot < tier && cost[j]! > cost[i]! * 1.1 + 1) return [`${o.name} (${o.tier}) costs ${r1(cost[j]!)} ns`];
      if (ot > tier && cost[j]! * 1.1 + 1 < cost[i]!) return [`${o.name} (${o.tier}) costs only ${r1(cost[j]!)} ns`];
      return [];
    });
    return {
      ...row,
      claim: c.tier,
      verdict: wrong.length === 0 ? 'holds' : 'does not hold',
      note: [wrong.length ? `out of order: ${wrong.join('; ')}` : "consistent with the table's order", c.note]
        .filter(Boolean)
        .join('; '),
    };
  });
  rows.push({
    name: 'send_signal',
    value: NaN,
    unit: 'ns/call',
    claim: 'Very High',
    verdict: 'not comparable',
    note: 'not measured: it signals the current task, which under test-run is the benchmark itself',
  });
  rows.push({
    name: 'empty loop iteration (baseline)',
    value: r1(median(baseline), 2),
    unit: 'ns',
    spread: spread(baseline).map((x) => r1(x, 2)) as [number, number],
    verdict: 'info',
  });
  const charts: Chart[] = [
    {
      kind: 'bar',
      title: 'BPF helper cost (ns per call)',
      yLabel: 'ns/call',
      labels: list.map((c) => c.name),
      series: [{ name: 'measured', data: cost.map((x) => r1(x)) }],
    },
  ];
  const checks: Record<string, boolean> = {
    'every helper cost is finite and non-negative': cost.every((x) => Number.isFinite(x) && x >= 0),
    'hash map update from BPF wrote its values': hash.lookup(5) === 5,
  };
  const sorted = list.map((c, i) => [c.name, cost[i]!] as const).sort((a, b) => a[1] - b[1]);
  const notes = [
    `${iterations.toLocaleString('en-US')} calls per run of a may_goto loop in a raw_tracepoint program under BPF_PROG_TEST_RUN, timed by the kernel's run-time stats; cost = loop with the call − empty loop (${r1(median(baseline), 2)} ns/iteration), median of ${rounds} rounds. Argument setup is counted with the call.`,
    `Measured order, cheapest first: ${sorted.map(([n, c]) => `${n} ${r1(c)} ns`).join(', ')}.`,
  ];
  return {
    suite: 'helpers',
    title: "Chapter 16's helper cost table, measured",
    rows,
    charts,
    notes,
    checks,
    extra: { iterations, rounds, costs: Object.fromEntries(list.map((c, i) => [c.name, samples[i]])) },
    durationMs: Date.now() - t0,
  };
}

/** The `helpers` suite. */
export const suite: BenchSuite = { name: 'helpers', title: "Chapter 16's helper cost table, measured", run };
export default suite;
