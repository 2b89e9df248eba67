/**
 * Suite `multi-ring`: one ring shared by every CPU against one ring per CPU (PerCpuRings, an
 * array_of_maps of ring buffers indexed by CPU).
 *
 * 1. Producer cost: a worker thread pinned to each CPU test-runs an XDP program that reserves and
 *    submits a 32-byte record per packet; both start together (a shared barrier), so with one shared ring
 *    both CPUs contend for its spinlock. The kernel's ns per run is the producer's cost per event. Rings
 *    are large enough that nothing is dropped, and one CPU alone gives the uncontended baseline.
 * 2. End to end: the same producers with a reader draining on the main thread and smaller rings (the same
 *    total memory in both designs): delivered events per second and the share lost.
 */
import type { Worker } from 'node:worker_threads';
import {
  asm,
  asmPerCpuRingReserve,
  asmRingbufReserve,
  BpfMap,
  DropCounter,
  onlineCpus,
  PerCpuRings,
  Program,
  R0,
  R1,
  R2,
  R6,
  RingBuffer,
  XDP,
  type AsmItem,
} from 'tsbpf';
import { benchWorker } from './worker-thread.js';
import type { MultiRingReply, MultiRingRequest } from './multi-ring-worker.js';
import { median, spread, type BenchContext, type BenchSuite, type Chart, type Row, type SuiteResult } from './suite.js';

const RECORD = 32;

class Producers {
  readonly workers: { w: Worker; cpu: number; next: (m: MultiRingReply) => void }[] = [];
  static async start(cpus: number[]): Promise<Producers> {
    const p = new Producers();
    await Promise.all(
      cpus.map(
        (cpu) =>
          new Promise<void>((resolve, reject) => {
            const w = benchWorker(import.meta.url, 'multi-ring-worker', { cpu });
            const entry = { w, cpu, next: (_m: MultiRingReply) => {} };
            p.workers.push(entry);
            w.on('message', (m: MultiRingReply) => entry.next(m));
            w.on('error', reject);
            entry.next = (m) =>
              m.type === 'ready'
                ? resolve()
                : reject(new Error(m.type === 'error' ? m.message : `unexpected ${m.type}`));
          }),
      ),
    );
    return p;
  }

  /** Runs the program on the first `n` CPUs at once; resolves each CPU's ns/event and wall time. */
  async run(
    progId: number,
    n: number,
    repeat: number,
    runs: number,
  ): Promise<{ nsPerEvent: number; wallNs: number; events: number }[]> {
    const barrier = new SharedArrayBuffer(4);
    const gate = new Int32Array(barrier);
    const armed: Promise<void>[] = [];
    const done: Promise<{ nsPerEvent: number; wallNs: number; events: number }>[] = [];
    for (const e of this.workers.slice(0, n)) {
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
            else if (m.type === 'done') resolve(m);
            else if (m.type === 'error') {
              armedResolve();
              reject(new Error(`CPU ${e.cpu}: ${m.message}`));
            }
          };
        }),
      );
      e.w.postMessage({ progId, repeat, runs, barrier } satisfies MultiRingRequest);
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

/** The record: {cpu u32, pad, ktime u64, …}; what matters is the reserve/submit. */
function body(dst = R6): AsmItem[] {
  return [
    asm.call('get_smp_processor_id'),
    asm.stxw(dst, 0, R0),
    asm.call('ktime_get_ns'),
    asm.stxdw(dst, 8, R0),
    asm.mov64(R1, dst),
    asm.mov64(R2, 0),
    asm.call('ringbuf_submit'),
    asm.label('out'),
    asm.mov64(R0, XDP.pass),
    asm.exit(),
  ];
}

interface Design {
  name: 'shared ring' | 'per-CPU rings';
  prog: Program;
  drops: DropCounter;
  reader: RingBuffer;
  close(): void;
}

function sharedDesign(totalBytes: number, onRecord: () => void): Design {
  const drops = DropCounter.create('mr_drops');
  const ring = BpfMap.create({ type: 'ringbuf', maxEntries: totalBytes, name: 'mr_shared' });
  const prog = Program.load({
    type: 'xdp',
    name: 'mr_shared',
    instructions: [...asmRingbufReserve({ ring, size: RECORD, dst: R6, dropCounter: drops, onFail: 'out' }), ...body()],
  });
  const reader = new RingBuffer(ring, onRecord, { dropCounter: drops });
  return {
    name: 'shared ring',
    prog,
    drops,
    reader,
    close() {
      reader.close();
      prog.close();
      ring.close();
      drops.close();
    },
  };
}

function perCpuDesign(totalBytes: number, cpus: number, onRecord: () => void): Design {
  const drops = DropCounter.create('mr_drops');
  const pc = PerCpuRings.create({ size: totalBytes / cpus, dropCounter: drops, name: 'mr_pcpu' }, onRecord);
  const prog = Program.load({
    type: 'xdp',
    name: 'mr_percpu',
    instructions: [
      ...asmPerCpuRingReserve({ rings: pc, size: RECORD, dst: R6, dropCounter: drops, onFail: 'out' }),
      ...body(),
    ],
  });
  return {
    name: 'per-CPU rings',
    prog,
    drops,
    reader: pc.reader,
    close() {
      prog.close();
      pc.close();
      drops.close();
    },
  };
}

/** Suite `multi-ring`. */
export const suite: BenchSuite = {
  name: 'multi-ring',
  title: 'One shared ring vs per-CPU rings: producer cost under contention, end-to-end rate and loss',
  async run(ctx: BenchContext): Promise<SuiteResult> {
    const t0 = Date.now();
    const rows: Row[] = [];
    const charts: Chart[] = [];
    const notes: string[] = [];
    const checks: Record<string, boolean> = {};
    const cpus = onlineCpus();
    if (cpus.length < 2) throw new Error('the multi-ring suite needs at least 2 online CPUs to contend');
    const possible = Math.max(...cpus) + 1;
    const producers = await Producers.start(cpus.slice(0, 2));
    try {
      // 1. Producer cost, rings big enough for everything: 2 CPUs × repeat × runs records of 40 bytes.
      const repeat = ctx.quick ? 50_000 : 200_000;
      const runs = 2;
      const costBytes = 1 << 25; // 32 MiB in all
      const cost: Record<string, { one: number[]; two: number[] }> = {
        'shared ring': { one: [], two: [] },
        'per-CPU rings': { one: [], two: [] },
      };
      let step = 0;
      const total = ctx.repeats * 4;
      for (let rep = 0; rep < ctx.repeats; rep++) {
        for (const make of [
          () => sharedDesign(costBytes, () => {}),
          () => perCpuDesign(costBytes, possible, () => {}),
        ]) {
          for (const n of [1, 2]) {
            const d = make();
            try {
              const res = await producers.run(d.prog.info().id, n, repeat, runs);
              (n === 1 ? cost[d.name]!.one : cost[d.name]!.two).push(median(res.map((r) => r.nsPerEvent)));
              checks[`${d.name}: nothing dropped while measuring producer cost`] =
                (checks[`${d.name}: nothing dropped while measuring producer cost`] ?? true) && d.drops.read() === 0;
            } finally {
              d.close();
            }
            ctx.progress(0.6 * (++step / total), `producer cost: ${d.name}, ${n} CPU${n > 1 ? 's' : ''}`);
          }
        }
      }
      for (const name of ['shared ring', 'per-CPU rings'] as const) {
        const c = cost[name]!;
        rows.push({
          name: `${name}: producer cost, 1 CPU producing`,
          value: median(c.one),
          unit: 'ns/event',
          spread: spread(c.one),
          verdict: 'info',
          note: 'reserve + fill + submit of a 32-byte record, test-run kernel time per packet',
        });
        rows.push({
          name: `${name}: producer cost, 2 CPUs producing at once`,
          value: median(c.two),
          unit: 'ns/event',
          spread: spread(c.two),
          verdict: 'info',
          note: `${(median(c.two) / median(c.one)).toFixed(2)}× the single-CPU cost`,
        });
      }
      const contention = median(cost['shared ring']!.two) / median(cost['per-CPU rings']!.two);
      rows.push({
        name: 'shared ring vs per-CPU rings, 2 CPUs: producer cost ratio',
        value: contention,
        unit: '×',
        claim: 'per-CPU rings avoid lock contention (Lab 12.2 challenge: multi-ring design for scalability)',
        verdict: contention > 1 ? 'holds' : 'does not hold',
      });
      charts.push({
        kind: 'bar',
        title: 'Producer cost per event',
        yLabel: 'ns/event',
        labels: ['1 CPU', '2 CPUs'],
        series: (['shared ring', 'per-CPU rings'] as const).map((n) => ({
          name: n,
          data: [median(cost[n]!.one), median(cost[n]!.two)],
        })),
      });

      // 2. End to end: both CPUs produce bursts while the main thread drains; same total ring memory.
      const e2eBytes = 1 << 20;
      const e2eRepeat = ctx.quick ? 20_000 : 50_000;
      const e2eRuns = ctx.quick ? 5 : 20;
      for (const make of [
        (cb: () => void) => sharedDesign(e2eBytes, cb),
        (cb: () => void) => perCpuDesign(e2eBytes, possible, cb),
      ]) {
        const rates: number[] = [],
          losses: number[] = [];
        let name = '';
        for (let rep = 0; rep < Math.max(1, Math.min(ctx.repeats, 3)); rep++) {
          let delivered = 0;
          const d = make(() => {
            delivered++;
          });
          name = d.name;
          try {
            const started = performance.now();
            const running = producers.run(d.prog.info().id, 2, e2eRepeat, e2eRuns);
            let finished = false;
            void running.then(
              () => {
                finished = true;
              },
              () => {
                finished = true;
              },
            );
            while (!finished) await d.reader.poll(5);
            const res = await running;
            d.reader.consume();
            const produced = res.reduce((a, r) => a + r.events, 0);
            const lost = d.drops.read();
            const elapsedS = (performance.now() - started) / 1000;
            rates.push(delivered / elapsedS);
            losses.push((100 * lost) / produced);
            checks[`${d.name}: delivered + lost = produced (end to end)`] =
              (checks[`${d.name}: delivered + lost = produced (end to end)`] ?? true) && delivered + lost === produced;
          } finally {
            d.close();
          }
          ctx.progress(0.6 + 0.2 * rep, `end to end: ${name}`);
        }
        rows.push({
          name: `${name}: end to end, delivered`,
          value: median(rates) / 1e6,
          unit: 'Mevents/s',
          spread: spread(rates).map((x) => x / 1e6) as [number, number],
          verdict: 'info',
        });
        rows.push({
          name: `${name}: end to end, lost`,
          value: median(losses),
          unit: '%',
          spread: spread(losses),
          verdict: 'info',
        });
      }
      notes.push(
        `Producer cost: ${repeat} packets × ${runs} runs per CPU per measurement, workers pinned to CPUs ${cpus.slice(0, 2).join(' and ')}, ${costBytes >> 20} MiB of rings in all. End to end: ${e2eRuns} runs of ${e2eRepeat} packets on each CPU, a RingBuffer on the main thread polling, ${e2eBytes >> 10} KiB of rings in all (one shared ring, or one ring of ${(e2eBytes / possible) >> 10} KiB per CPU). With only two CPUs, the reader competes with the producers for CPU time: end-to-end loss measures the reader's share as much as the ring design.`,
      );
    } finally {
      await producers.close();
    }
    return { suite: 'multi-ring', title: this.title, rows, charts, notes, checks, durationMs: Date.now() - t0 };
  },
};
