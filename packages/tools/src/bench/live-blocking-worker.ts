/**
 * Worker thread of the live bench's blocking reader (live-blocking.ts): the same consumer as
 * syscall-events.ts's runLive (latency histogram from one clock reading per drain, a check that
 * each generator thread's sequence rises), reading with RingBuffer.runBlocking() in this thread,
 * which does nothing else.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BpfMap, RingBuffer, type RecordView } from 'tsbpf';
import { SeqChecker } from './soak-check.js';
import { EVENT_SIZE, LatencyHistogram } from './syscall-events.js';

/** threads: the generator's (thread k's calls are numbered k·2^40 + i). */
export interface BlockingWorkerData {
  mapId: number;
  events: number;
  maxLatencyMs: number;
  stop: SharedArrayBuffer;
  monoOffsetNs: number;
  threads: number;
  id: number;
  tgid: number;
}

class ConsumerState {
  delivered = 0;
  outOfOrder = 0;
  nowNs = 0;
}

const d = workerData as BlockingWorkerData;
const stop = new Int32Array(d.stop);
const ring = BpfMap.fromId(d.mapId);
const hist = new LatencyHistogram();
const rampHist = new LatencyHistogram();
const rampEvents = Math.floor(d.events * 0.1);
const st = new ConsumerState();
const seqs = new SeqChecker({ threads: d.threads, len: EVENT_SIZE, id: d.id, tgid: d.tgid });
const onRecord = (v: RecordView, off: number): void => {
  const ts = v.getUint32(off, true) + v.getUint32(off + 4, true) * 4294967296;
  const seq = v.getUint32(off + 8, true) + v.getUint32(off + 12, true) * 4294967296;
  const dns = st.nowNs - ts;
  (st.delivered < rampEvents ? rampHist : hist).add(dns <= 0 ? 0 : dns < 2e9 ? dns | 0 : 2_000_000_000);
  if (!seqs.advance(seq)) st.outOfOrder++;
  st.delivered++;
};
const rb = new RingBuffer(ring, onRecord, { maxLatencyMs: d.maxLatencyMs });
const lo = Math.floor(d.events * 0.1),
  hi = Math.floor(d.events * 0.9);
let winT0 = 0,
  winT1 = 0,
  winD0 = 0,
  winD1 = 0,
  drains = 0;
let winC0: NodeJS.CpuUsage | undefined, winC1: NodeJS.CpuUsage | undefined;
parentPort!.postMessage({ type: 'ready' });
// Wait for the go (the generator started): a blocking wait on the shared flag.
Atomics.wait(stop, 1, 0);
const cpu0 = process.cpuUsage();
const t0 = performance.now();
rb.runBlocking({
  beforeDrain: () => {
    st.nowNs = performance.now() * 1e6 + d.monoOffsetNs;
  },
  afterDrain: (n) => {
    if (n > 0) drains++;
    if (winC0 === undefined) {
      if (st.delivered >= lo) {
        winC0 = process.cpuUsage();
        winT0 = performance.now();
        winD0 = st.delivered;
      }
    } else if (winC1 === undefined && st.delivered >= hi) {
      winC1 = process.cpuUsage();
      winT1 = performance.now();
      winD1 = st.delivered;
    }
    return st.delivered >= d.events || (Atomics.load(stop, 0) === 1 && rb.availableBytes() === 0);
  },
});
const t1 = performance.now();
const cpu = process.cpuUsage(cpu0);
const stats = { ...rb.stats };
rb.close();
ring.close();
const lat = hist.count > 0 ? hist : rampHist;
const w0 = winC0,
  w1 = winC1;
const win =
  w0 !== undefined && w1 !== undefined && winT1 - winT0 >= 50
    ? { user: (w1.user - w0.user) / 1000, system: (w1.system - w0.system) / 1000, ms: winT1 - winT0 }
    : undefined;
const elapsedMs = t1 - t0;
parentPort!.postMessage({
  type: 'result',
  delivered: st.delivered,
  outOfOrder: st.outOfOrder,
  nextSeq: seqs.nextSeq,
  elapsedMs,
  eventsPerSec: st.delivered / (elapsedMs / 1000),
  consumerCpuPct: win ? ((win.user + win.system) / win.ms) * 100 : ((cpu.user + cpu.system) / 1000 / elapsedMs) * 100,
  consumerCpuPctWhole: ((cpu.user + cpu.system) / 1000 / elapsedMs) * 100,
  consumerCpuUserPct: win ? (win.user / win.ms) * 100 : NaN,
  consumerCpuSysPct: win ? (win.system / win.ms) * 100 : NaN,
  steadyEventsPerSec: win ? (winD1 - winD0) / (win.ms / 1000) : st.delivered / (elapsedMs / 1000),
  latency: lat.count
    ? {
        p50Us: lat.percentile(50) / 1000,
        p99Us: lat.percentile(99) / 1000,
        maxUs: Math.max(hist.maxNs, rampHist.maxNs) / 1000,
        meanUs: lat.sumNs / lat.count / 1000,
      }
    : null,
  wakeups: stats.wakeups,
  flushes: stats.flushes,
  budgetDrains: stats.budgetDrains,
  drains,
});
