/**
 * The live half of the `xdp` suite, run as a child process inside the suite's test network
 * namespace (`ip netns exec`), because test-run resolves `ingress_ifindex` and XDP attach resolves
 * interface names in the caller's namespace. For each configuration it attaches a counter to the
 * receiving veth, drives the other end with the in-kernel generator (test-run with
 * BPF_F_TEST_XDP_LIVE_FRAMES, XDP_TX), and prints one JSON line per sample.
 *
 * argv[2]: JSON {@link LiveWorkerRequest}. Output: JSON lines {@link LiveWorkerMessage}.
 */
import { BpfMap } from 'tsbpf';
import { Program } from 'tsbpf';
import { interfaceIndex } from 'tsbpf';
import { counterProgram, type CounterVariant } from '../labs/packet-counter-programs.js';
import {
  createCounterMap, expectedClassCounts, expectedTotals, GENERATOR_SEQ_MAP, generatorProgram, readCounters, returnOnlyProgram,
  templateFrame, TRAFFIC_MIX, withAction, type CounterTotals,
} from './xdp-traffic.js';

/** One configuration: a Lab 12.1 counter (or none: a bare return) returning `action`. */
export interface LiveRun {
  label: string;
  variant: CounterVariant | null;
  action: number;
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
}

export type LiveWorkerMessage =
  | { type: 'sample'; label: string; rep: number; frames: number; elapsedNs: number; syscallNs: number; kernelNsPerFrame: number; counted: CounterTotals | null; expected: CounterTotals }
  | { type: 'progress'; fraction: number; label: string }
  | { type: 'error'; message: string };

const LIVE_FRAMES = 2; // BPF_F_TEST_XDP_LIVE_FRAMES

function emit(m: LiveWorkerMessage): void {
  process.stdout.write(JSON.stringify(m) + '\n');
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
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
    type: 'xdp', name: run.variant ? `cnt_${run.variant}` : 'cnt_none',
    instructions: run.variant && counters ? withAction(counterProgram(run.variant, counters), run.action) : returnOnlyProgram(run.action),
  });
  using link = counter.attachXdp(req.rxIface, { mode: 'native' });
  void link;

  const t0 = process.hrtime.bigint();
  const res = gen.testRun({ data: frame, ctx, repeat: req.frames, flags: LIVE_FRAMES, batchSize: req.batchSize, dataOutSize: 0, ctxOutSize: 0 });
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
      else { still = 0; tEnd = process.hrtime.bigint(); }
      counted = c;
    }
  }
  return {
    type: 'sample', label: run.label, rep, frames: req.frames,
    elapsedNs: Number(tEnd - t0), syscallNs: Number(t1 - t0), kernelNsPerFrame: res.durationNs, counted, expected,
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
