/**
 * The soak's reader, a child process of `tsbpf bench soak` (so it can be SIGSTOPped and measured from
 * outside): attaches the live suite's syscall tracer to the generator's pid, drains with
 * RingBuffer.start(), checks every record, and prints one JSON line per report interval.
 *
 * argv[2]: JSON {tgid, threads, ringBytes, maxLatencyMs, reportMs, minuteMs} (threads: the
 * generator's thread count, which its sequence numbers encode; see soak-check.ts). Prints
 * {"ready":true} once attached, then {t, delivered, lost, corrupt, nextSeq, p99Us, maxUs[, minuteP99Us, minuteEvents, minuteSpanMs]}
 * lines; exits on SIGTERM after a final line with "final": true.
 */
import { BpfMap, DropCounter, Program, RingBuffer, type RecordView } from 'tsbpf';
import { SeqChecker } from './soak-check.js';
import { EVENT_SIZE, GENERATOR_SYSCALLS, LatencyHistogram, syscallTracer } from './syscall-events.js';

interface ReaderConfig {
  tgid: number;
  threads?: number;
  ringBytes: number;
  maxLatencyMs: number;
  reportMs: number;
  minuteMs: number;
}
const cfg = JSON.parse(process.argv[2]!) as ReaderConfig;

/** performance.now() (ms) to CLOCK_MONOTONIC ns, the clock of bpf_ktime_get_ns. */
const monoOffsetNs = (() => {
  const a = performance.now();
  const mono = Number(process.hrtime.bigint());
  const b = performance.now();
  return mono - ((a + b) / 2) * 1e6;
})();

class State {
  delivered = 0;
  corrupt = 0;
  nowNs = 0;
}

const st = new State();
// The live suite's cheapest traced path: syscall 1023 (ENOSYS at once) seen by a raw tracepoint.
const SYSCALL_NR = GENERATOR_SYSCALLS.nosys.nr;
const seqs = new SeqChecker({ threads: cfg.threads ?? 1, len: EVENT_SIZE, id: SYSCALL_NR, tgid: cfg.tgid });
let window = new LatencyHistogram();
let minute = new LatencyHistogram();

const ring = BpfMap.create({ type: 'ringbuf', maxEntries: cfg.ringBytes, name: 'soak_events' });
const drops = DropCounter.create('soak_drops');
const prog = Program.load({
  type: 'raw_tracepoint',
  name: 'soak_tracer',
  instructions: syscallTracer({
    ring,
    drops,
    tgid: cfg.tgid,
    wakeup: { kind: 'default' },
    syscall: 'nosys',
    attach: 'raw_tp',
  }),
});
const link = prog.attachRawTracepoint('sys_enter');
const onRecord = (v: RecordView, off: number, len: number): void => {
  const ts = v.getUint32(off, true) + v.getUint32(off + 4, true) * 4294967296;
  const seq = v.getUint32(off + 8, true) + v.getUint32(off + 12, true) * 4294967296;
  const id = v.getUint32(off + 16, true);
  const tgid = v.getUint32(off + 28, true);
  if (!seqs.check(len, seq, id, tgid)) st.corrupt++;
  const d = st.nowNs - ts;
  const ns = d <= 0 ? 0 : d < 2e9 ? d | 0 : 2_000_000_000;
  window.add(ns);
  minute.add(ns);
  st.delivered++;
};
const rb = new RingBuffer(ring, onRecord, { maxLatencyMs: cfg.maxLatencyMs, dropCounter: drops });
rb.start({
  beforeDrain: () => {
    st.nowNs = performance.now() * 1e6 + monoOffsetNs;
  },
});

const t0 = performance.now();
let nextMinute = t0 + cfg.minuteMs;
function report(final: boolean): void {
  const now = performance.now();
  const line: Record<string, unknown> = {
    t: Math.round(now - t0),
    delivered: st.delivered,
    lost: rb.lost,
    corrupt: st.corrupt,
    nextSeq: seqs.nextSeq,
    threadSeqs: seqs.minSeq,
    p99Us: window.count ? window.percentile(99) / 1000 : null,
    maxUs: window.maxNs / 1000,
  };
  window = new LatencyHistogram();
  if (now >= nextMinute || final) {
    line.minuteP99Us = minute.count ? minute.percentile(99) / 1000 : null;
    line.minuteEvents = minute.count;
    // The final line's minute is usually partial (the run ends between two minute marks).
    line.minuteSpanMs = Math.round(now - (nextMinute - cfg.minuteMs));
    minute = new LatencyHistogram();
    nextMinute += cfg.minuteMs;
  }
  if (final) line.final = true;
  process.stdout.write(`${JSON.stringify(line)}\n`);
}
const timer = setInterval(() => report(false), cfg.reportMs);
process.on('SIGTERM', () => {
  clearInterval(timer);
  rb.stop();
  rb.consume();
  report(true);
  rb.close();
  link.close();
  prog.close();
  drops.close();
  ring.close();
  process.exit(0);
});
process.stdout.write(`${JSON.stringify({ ready: true, pid: process.pid })}\n`);
