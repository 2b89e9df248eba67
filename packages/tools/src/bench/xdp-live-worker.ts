/**
 * The live half of the `xdp` suite, run as a child process inside the suite's test network
 * namespace (`ip netns exec`), because test-run resolves `ingress_ifindex` and XDP attach resolves
 * interface names in the caller's namespace. For each configuration it attaches a counter to the
 * receiving veth, drives the other end with the in-kernel generator (test-run with
 * BPF_F_TEST_XDP_LIVE_FRAMES, XDP_TX), and prints one JSON line per sample.
 *
 * argv[2]: JSON {@link LiveWorkerRequest}. Output: JSON lines {@link LiveWorkerMessage}.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { BpfMap } from 'tsbpf';
import { Program } from 'tsbpf';
import { interfaceIndex } from 'tsbpf';
import { counterProgram, type CounterVariant } from '../labs/packet-counter-programs.js';
import {
  createCounterMap,
  expectedClassCounts,
  expectedTotals,
  GENERATOR_SEQ_MAP,
  generatorProgram,
  headerReadProgram,
  readCounters,
  returnOnlyProgram,
  templateFrame,
  TRAFFIC_MIX,
  withAction,
  type CounterTotals,
} from './xdp-traffic.js';

/** One configuration: a Lab 12.1 counter (or none: a bare return) returning `action`. */
export interface LiveRun {
  label: string;
  variant: CounterVariant | null;
  action: number;
  /** Without a counter: read the packet headers before returning (`headerReadProgram`). */
  readHeaders?: boolean;
}

export interface LiveWorkerRequest {
  /** Generator side (frames are "received" here and XDP_TX'd to the peer). */
  txIface: string;
  /** Counter side. */
  rxIface: string;
  frames: number;
  repeats: number;
  batchSize: number;
  runs: LiveRun[];
  /**
   * Threaded mode: switch the counter side's NAPI to a kernel thread (sysfs `threaded`) and pin
   * that thread to this CPU, so generation and the counter run on different cores.
   */
  napiCpu?: number;
}

export type LiveWorkerMessage =
  | {
      type: 'sample';
      label: string;
      rep: number;
      frames: number;
      elapsedNs: number;
      syscallNs: number;
      kernelNsPerFrame: number;
      counted: CounterTotals | null;
      expected: CounterTotals;
      napiNs?: number;
      napiThreads?: number;
      dropped?: number;
    }
  | { type: 'progress'; fraction: number; label: string }
  | { type: 'error'; message: string };

const LIVE_FRAMES = 2; // BPF_F_TEST_XDP_LIVE_FRAMES

function emit(m: LiveWorkerMessage): void {
  process.stdout.write(`${JSON.stringify(m)}\n`);
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** The pids of `dev`'s threaded-NAPI kernel threads (comm "napi/<dev>-<id>"). */
function napiThreads(dev: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, 'utf8').startsWith(`napi/${dev}-`)) out.push(Number(d));
    } catch {
      /* exited */
    }
  }
  return out;
}

/** CPU time (ns) the threads have run, from /proc/<pid>/schedstat (ns resolution). */
function runtimeNs(pids: number[]): number {
  let ns = 0;
  for (const p of pids) ns += Number(readFileSync(`/proc/${p}/schedstat`, 'utf8').split(' ')[0]);
  return ns;
}

/** Frames veth dropped on either side (ring full on the peer, or XDP_TX errors). */
function vethDropped(tx: string, rx: string): number {
  const r = (dev: string, f: string) => Number(readFileSync(`/sys/class/net/${dev}/statistics/${f}`, 'utf8'));
  return r(tx, 'tx_dropped') + r(rx, 'rx_dropped');
}

function runOnce(req: LiveWorkerRequest, run: LiveRun, rep: number): LiveWorkerMessage {
  const frame = templateFrame(TRAFFIC_MIX[0]!);
  const ctx = new Uint8Array(24);
  const cv = new DataView(ctx.buffer);
  cv.setUint32(4, frame.byteLength, true); // data_end
  cv.setUint32(12, interfaceIndex(req.txIface), true); // ingress_ifindex
  const expected = expectedTotals(expectedClassCounts(req.frames));

  using seq = BpfMap.create({ ...GENERATOR_SEQ_MAP, name: 'gen_seq' });
  using gen = Program.load({ type: 'xdp', name: 'xdp_gen', instructions: generatorProgram(seq) });
  using counters = run.variant ? createCounterMap(run.variant, `c_${run.variant}`) : null;
  using counter = Program.load({
    type: 'xdp',
    name: run.variant ? `cnt_${run.variant}` : run.readHeaders ? 'cnt_hdr' : 'cnt_none',
    instructions:
      run.variant && counters
        ? withAction(counterProgram(run.variant, counters), run.action)
        : run.readHeaders
          ? headerReadProgram(run.action)
          : returnOnlyProgram(run.action),
  });
  using link = counter.attachXdp(req.rxIface, { mode: 'native' });
  void link;
  // NAPI instances exist once XDP is attached: switch them to threads now and pin those.
  let napi: number[] = [];
  if (req.napiCpu !== undefined) {
    writeFileSync(`/sys/class/net/${req.rxIface}/threaded`, '1');
    napi = napiThreads(req.rxIface);
    if (napi.length === 0) throw new Error(`no NAPI thread for ${req.rxIface} after enabling threaded NAPI`);
    for (const pid of napi)
      execFileSync('taskset', ['-p', '-c', String(req.napiCpu), String(pid)], { stdio: 'ignore' });
  }
  const napi0 = runtimeNs(napi);
  const drop0 = vethDropped(req.txIface, req.rxIface);

  const t0 = process.hrtime.bigint();
  const res = gen.testRun({
    data: frame,
    ctx,
    repeat: req.frames,
    flags: LIVE_FRAMES,
    batchSize: req.batchSize,
    dataOutSize: 0,
    ctxOutSize: 0,
  });
  const t1 = process.hrtime.bigint();
  let tEnd = t1;
  let counted: CounterTotals | null = null;
  if (counters && run.variant) {
    // Frames still queued on the peer are processed by its NAPI (normally inside the syscall, at
    // bh enable); wait until the counters stop moving and count that time too.
    counted = readCounters(run.variant, counters);
    let still = 0;
    while (counted.total < expected.total && still < 20) {
      sleepMs(1);
      const c = readCounters(run.variant, counters);
      if (c.total === counted.total) still++;
      else {
        still = 0;
        tEnd = process.hrtime.bigint();
      }
      counted = c;
    }
  }
  if (!counters && napi.length > 0) {
    // No counter to watch: the NAPI thread's run time stops moving once its queue is empty.
    let last = runtimeNs(napi),
      still = 0;
    while (still < 3) {
      sleepMs(1);
      const now = runtimeNs(napi);
      if (now === last) still++;
      else {
        still = 0;
        last = now;
        tEnd = process.hrtime.bigint();
      }
    }
  }
  return {
    type: 'sample',
    label: run.label,
    rep,
    frames: req.frames,
    elapsedNs: Number(tEnd - t0),
    syscallNs: Number(t1 - t0),
    kernelNsPerFrame: res.durationNs,
    counted,
    expected,
    ...(req.napiCpu !== undefined ? { napiNs: runtimeNs(napi) - napi0, napiThreads: napi.length } : {}),
    dropped: vethDropped(req.txIface, req.rxIface) - drop0,
  };
}

function main(): void {
  const req = JSON.parse(process.argv[2] ?? '') as LiveWorkerRequest;
  const total = req.runs.length * req.repeats;
  let done = 0;
  // Repeats outermost, so drift over time spreads evenly across configurations.
  for (let rep = 0; rep < req.repeats; rep++) {
    for (const run of req.runs) {
      emit({ type: 'progress', fraction: done / total, label: `live ${run.label}` });
      emit(runOnce(req, run, rep));
      done++;
    }
  }
}

try {
  main();
} catch (e) {
  emit({ type: 'error', message: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  process.exitCode = 1;
}
