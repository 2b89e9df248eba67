/**
 * `tsbpf bench percpu` — Lab 16.2: one counter incremented from every CPU at once, three ways:
 * a shared array value with an atomic add, the same value with a racy load/add/store, and a
 * per-CPU array summed in user space. Each CPU runs a loop program under test-run
 * (BPF_F_TEST_RUN_ON_CPU) from its own pinned worker thread; all start together. Reports throughput
 * and the racy counter's lost updates; the atomic and per-CPU totals must be exact.
 */
import type { Worker } from 'node:worker_threads';
import { asm, R0, R1, R2, R9, R10 } from 'tsbpf';
import { BpfMap, PerCpuArray } from 'tsbpf';
import { onlineCpus } from 'tsbpf';
import { t } from 'tsbpf';
import { loadLoopProgram } from './loop-program.js';
import { benchWorker } from './worker-thread.js';
import type { PercpuReply, PercpuRequest } from './percpu-worker.js';
import { median, spread, type BenchContext, type BenchSuite, type Chart, type Row, type SuiteResult } from './suite.js';

type Variant = 'atomic' | 'racy' | 'percpu';
const VARIANTS: Variant[] = ['atomic', 'racy', 'percpu'];
const LABEL: Record<Variant, string> = {
  atomic: 'shared counter, atomic add',
  racy: 'shared counter, racy load/add/store',
  percpu: 'per-CPU counter',
};

/** Loop body: look up key 0 (as the seed's counter does per event) and increment; counts in R9. */
function counterBody(m: BpfMap, v: Variant) {
  const inc =
    v === 'atomic'
      ? [asm.mov64(R1, 1), asm.atomicAdd64(R0, 0, R1)]
      : [asm.ldxdw(R1, R0, 0), asm.add64(R1, 1), asm.stxdw(R0, 0, R1)];
  return [
    asm.stw(R10, -4, 0),
    asm.ldMapFd(R1, m),
    asm.mov64(R2, R10),
    asm.add64(R2, -4),
    asm.call('map_lookup_elem'),
    asm.jeq(R0, 0, inc.length + 1),
    ...inc,
    asm.add64(R9, 1),
  ];
}

class WorkerPool {
  readonly workers: { w: Worker; cpu: number; next: (m: PercpuReply) => void }[] = [];
  static async start(cpus: number[]): Promise<WorkerPool> {
    const pool = new WorkerPool();
    await Promise.all(
      cpus.map(
        (cpu) =>
          new Promise<void>((resolve, reject) => {
            const w = benchWorker(import.meta.url, 'percpu-worker', { cpu });
            const entry = { w, cpu, next: (_m: PercpuReply) => {} };
            pool.workers.push(entry);
            w.on('message', (m: PercpuReply) => entry.next(m));
            w.on('error', reject);
            entry.next = (m) =>
              m.type === 'ready'
                ? resolve()
                : reject(new Error(m.type === 'error' ? m.message : `unexpected ${m.type}`));
          }),
      ),
    );
    return pool;
  }

  /** Runs `runs` × `iterations` on each of the first `n` CPUs at once; per-CPU wall time and counts. */
  async run(
    progId: number,
    n: number,
    iterations: number,
    runs: number,
  ): Promise<{ wallNs: number; counted: number }[]> {
    const barrier = new SharedArrayBuffer(4);
    const gate = new Int32Array(barrier);
    const ws = this.workers.slice(0, n);
    const armed: Promise<void>[] = [];
    const done: Promise<{ wallNs: number; counted: number }>[] = [];
    for (const e of ws) {
      let armedResolve!: () => void;
      armed.push(
        new Promise<void>((r) => {
          armedResolve = r;
        }),
      );
      done.push(
        new Promise((resolve, reject) => {
          e.next = (m) => {
            if (m.type === 'armed') armedResolve();
            else if (m.type === 'done') resolve({ wallNs: m.wallNs, counted: m.counted });
            else if (m.type === 'error') {
              armedResolve();
              reject(new Error(`CPU ${e.cpu}: ${m.message}`));
            }
          };
        }),
      );
      e.w.postMessage({ progId, iterations, runs, barrier } satisfies PercpuRequest);
    }
    await Promise.all(armed);
    Atomics.store(gate, 0, 1);
    Atomics.notify(gate, 0);
    return Promise.all(done);
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((e) => e.w.terminate()));
  }
}

interface VariantResult {
  variant: Variant;
  mops: number[];
  mopsOne: number[];
  lost: number[];
  exact: boolean;
  countedOk: boolean;
}

async function run(ctx: BenchContext): Promise<SuiteResult> {
  const t0 = Date.now();
  const cpus = onlineCpus();
  if (cpus.length < 2) throw new Error('the percpu suite needs at least 2 online CPUs to race');
  const iterations = ctx.quick ? 500_000 : 1_000_000;
  const runs = ctx.quick ? 4 : 10;
  const rounds = ctx.repeats;
  const pool = await WorkerPool.start(cpus);
  const results: VariantResult[] = [];
  try {
    for (const [vi, v] of VARIANTS.entries()) {
      ctx.progress(vi / VARIANTS.length, LABEL[v]);
      using m = BpfMap.create({
        type: v === 'percpu' ? 'percpu_array' : 'array',
        key: t.u32,
        value: t.u64num,
        maxEntries: 1,
        name: `ctr_${v}`,
      });
      using prog = loadLoopProgram({ body: counterBody(m, v), mask: 0, name: `ctr_${v}` });
      const id = prog.info().id;
      const read = (): number => (m instanceof PerCpuArray ? (m.sum(0) ?? 0) : (m.lookup(0) ?? 0));
      const zero = () => (m instanceof PerCpuArray ? m.update(0, new Array<number>(m.cpus).fill(0)) : m.update(0, 0));
      const r: VariantResult = { variant: v, mops: [], mopsOne: [], lost: [], exact: true, countedOk: true };
      await pool.run(id, cpus.length, Math.min(iterations, 50_000), 1); // warm
      for (let i = 0; i < rounds; i++) {
        // All CPUs at once.
        zero();
        const all = await pool.run(id, cpus.length, iterations, runs);
        const expected = iterations * runs * cpus.length;
        const got = read();
        r.countedOk &&= all.every((x) => x.counted === iterations * runs);
        r.mops.push((expected / Math.max(...all.map((x) => x.wallNs))) * 1e3);
        r.lost.push(expected - got);
        if (v !== 'racy') r.exact &&= got === expected;
        // One CPU alone, for the scaling comparison.
        zero();
        const one = await pool.run(id, 1, iterations, runs);
        r.mopsOne.push(((iterations * runs) / one[0]!.wallNs) * 1e3);
        if (v !== 'racy') r.exact &&= read() === iterations * runs;
      }
      results.push(r);
      ctx.log(
        `${LABEL[v]}: ${median(r.mops).toFixed(1)} Mops/s on ${cpus.length} CPUs (${median(r.mopsOne).toFixed(1)} on one), lost ${median(r.lost)}`,
      );
    }
  } finally {
    await pool.close();
  }
  ctx.progress(1, 'done');
  const by = Object.fromEntries(results.map((r) => [r.variant, r])) as Record<Variant, VariantResult>;
  const total = iterations * runs * cpus.length;
  const r1 = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
  const row = (name: string, xs: number[], unit: string, extra: Partial<Row> = {}): Row => ({
    name,
    value: r1(median(xs)),
    unit,
    spread: spread(xs).map((x) => r1(x)) as [number, number],
    ...extra,
  });
  const pcVsAtomic = median(by.percpu.mops) / median(by.atomic.mops);
  const lostPct = (median(by.racy.lost) / total) * 100;
  const rows: Row[] = [
    row(`${LABEL.atomic}, ${cpus.length} CPUs`, by.atomic.mops, 'Mops/s', {
      verdict: 'info',
      note: `exact: ${by.atomic.exact}; one CPU alone: ${r1(median(by.atomic.mopsOne))} Mops/s`,
    }),
    row(`${LABEL.racy}, ${cpus.length} CPUs`, by.racy.mops, 'Mops/s', {
      verdict: 'info',
      note: `one CPU alone: ${r1(median(by.racy.mopsOne))} Mops/s`,
    }),
    row(`${LABEL.racy}: lost updates`, by.racy.lost, 'updates', {
      claim: '"Race condition!" (non-atomic increment loses updates)',
      verdict: median(by.racy.lost) > 0 ? 'holds' : 'does not hold',
      note: `${r1(lostPct, 2)}% of ${total.toLocaleString('en-US')} increments lost (median)`,
    }),
    row(`${LABEL.percpu}, ${cpus.length} CPUs`, by.percpu.mops, 'Mops/s', {
      claim: 'Per-CPU: no lock contention',
      verdict: pcVsAtomic >= 1 ? 'holds' : 'does not hold',
      ratio: { value: r1(pcVsAtomic, 2), against: 'shared atomic add, same run' },
      note: `exact: ${by.percpu.exact}; one CPU alone: ${r1(median(by.percpu.mopsOne))} Mops/s`,
    }),
    row(
      'per-CPU scaling (all CPUs / one CPU)',
      by.percpu.mops.map((x, i) => x / by.percpu.mopsOne[i]!),
      'x',
      { verdict: 'info', note: `atomic: ${r1(median(by.atomic.mops.map((x, i) => x / by.atomic.mopsOne[i]!)), 2)}×` },
    ),
  ];
  const checks: Record<string, boolean> = {
    'every loop run counted all its increments': results.every((r) => r.countedOk),
    'atomic counter total is exact': by.atomic.exact,
    'per-CPU counter total is exact': by.percpu.exact,
    // Over all rounds: on a loaded machine one round's CPUs may not overlap at all.
    'racy counter lost updates': by.racy.lost.reduce((a, b) => a + b, 0) > 0,
  };
  const charts: Chart[] = [
    {
      kind: 'bar',
      title: `Counter throughput, ${cpus.length} CPUs at once vs one`,
      yLabel: 'Mops/s',
      labels: VARIANTS.map((v) => LABEL[v]),
      series: [
        { name: `${cpus.length} CPUs`, data: VARIANTS.map((v) => r1(median(by[v].mops))) },
        { name: '1 CPU', data: VARIANTS.map((v) => r1(median(by[v].mopsOne))) },
      ],
    },
  ];
  const notes = [
    `Each CPU runs a raw_tracepoint loop program (${iterations.toLocaleString('en-US')} increments per run, ${runs} runs) with BPF_F_TEST_RUN_ON_CPU from a worker thread pinned to that CPU; workers start together on a shared barrier. Each increment does map_lookup_elem(key 0) then the add, as the seed's counter does. Throughput = all increments / the slowest CPU's wall time; ${rounds} rounds, medians.`,
    `Racy load/add/store lost ${r1(lostPct, 2)}% of the increments; atomic add and the per-CPU array were exact. Per-CPU vs shared atomic: ${r1(pcVsAtomic, 2)}× the throughput.`,
  ];
  return {
    suite: 'percpu',
    title: 'Lab 16.2: per-CPU vs shared counters under contention',
    rows,
    charts,
    notes,
    checks,
    extra: { cpus: cpus.length, iterations, runs, rounds, results },
    durationMs: Date.now() - t0,
  };
}

/** The `percpu` suite. */
export const suite: BenchSuite = {
  name: 'percpu',
  title: 'Lab 16.2: per-CPU vs shared counters under contention',
  run,
};
export default suite;
