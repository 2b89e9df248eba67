/**
 * A worker thread of the `percpu` suite: pins itself to one CPU (sched_setaffinity through taskset on
 * its own thread id), then on each request opens the loop program by id and test-runs it on that CPU
 * `runs` times, starting when the main thread releases the shared barrier so every CPU hammers the
 * counter at once.
 */
import { execFileSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { Program } from 'tsbpf';
import { loopContext, runLoop } from './loop-program.js';

/** What the main thread sends per measurement. */
export interface PercpuRequest {
  progId: number;
  iterations: number;
  runs: number;
  barrier: SharedArrayBuffer;
}
/** What the worker answers. */
export type PercpuReply =
  | { type: 'ready' }
  | { type: 'armed' }
  | { type: 'done'; cpu: number; wallNs: number; counted: number }
  | { type: 'error'; message: string };

const { cpu } = workerData as { cpu: number };
const port = parentPort!;

try {
  // "PID/task/TID": pin this thread only (threads inherit nothing from a later taskset of the process).
  const tid = readlinkSync('/proc/thread-self').split('/').pop()!;
  execFileSync('taskset', ['-p', '-c', String(cpu), tid], { stdio: 'ignore' });
  port.postMessage({ type: 'ready' } satisfies PercpuReply);
} catch (e) {
  port.postMessage({ type: 'error', message: `pinning to CPU ${cpu}: ${(e as Error).message}` } satisfies PercpuReply);
}

port.on('message', (req: PercpuRequest | 'exit') => {
  if (req === 'exit') {
    port.close();
    return;
  }
  try {
    using prog = Program.fromId(req.progId);
    const ctx = loopContext(req.iterations);
    const gate = new Int32Array(req.barrier);
    port.postMessage({ type: 'armed' } satisfies PercpuReply);
    Atomics.wait(gate, 0, 0);
    let counted = 0;
    const t0 = process.hrtime.bigint();
    for (let r = 0; r < req.runs; r++) counted += runLoop(prog, ctx, cpu);
    const wallNs = Number(process.hrtime.bigint() - t0);
    port.postMessage({ type: 'done', cpu, wallNs, counted } satisfies PercpuReply);
  } catch (e) {
    port.postMessage({ type: 'error', message: (e as Error).message } satisfies PercpuReply);
  }
});
