/**
 * A worker thread of the `multi-ring` suite: pins itself to one CPU, then on each request opens the
 * producer program by id and, once the main thread releases the shared barrier (so both CPUs produce at
 * once), test-runs it `runs` times of `repeat` packets; answers the kernel's ns per run and the wall time.
 */
import { execFileSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { Program } from 'tsbpf';

/** What the main thread sends per measurement. */
export interface MultiRingRequest {
  progId: number;
  repeat: number;
  runs: number;
  barrier: SharedArrayBuffer;
}
/** What the worker answers. */
export type MultiRingReply =
  | { type: 'ready' }
  | { type: 'armed' }
  | { type: 'done'; cpu: number; nsPerEvent: number; wallNs: number; events: number }
  | { type: 'error'; message: string };

const { cpu } = workerData as { cpu: number };
const port = parentPort!;

try {
  const tid = readlinkSync('/proc/thread-self').split('/').pop()!;
  execFileSync('taskset', ['-p', '-c', String(cpu), tid], { stdio: 'ignore' });
  port.postMessage({ type: 'ready' } satisfies MultiRingReply);
} catch (e) {
  port.postMessage({
    type: 'error',
    message: `pinning to CPU ${cpu}: ${(e as Error).message}`,
  } satisfies MultiRingReply);
}

port.on('message', (req: MultiRingRequest | 'exit') => {
  if (req === 'exit') {
    port.close();
    return;
  }
  try {
    using prog = Program.fromId(req.progId);
    const frame = new Uint8Array(64);
    const gate = new Int32Array(req.barrier);
    port.postMessage({ type: 'armed' } satisfies MultiRingReply);
    Atomics.wait(gate, 0, 0);
    let kernelNs = 0;
    const t0 = process.hrtime.bigint();
    for (let r = 0; r < req.runs; r++)
      kernelNs += prog.testRun({ data: frame, repeat: req.repeat, dataOutSize: 0 }).durationNs;
    const wallNs = Number(process.hrtime.bigint() - t0);
    port.postMessage({
      type: 'done',
      cpu,
      nsPerEvent: kernelNs / req.runs,
      wallNs,
      events: req.runs * req.repeat,
    } satisfies MultiRingReply);
  } catch (e) {
    port.postMessage({ type: 'error', message: (e as Error).message } satisfies MultiRingReply);
  }
});
