/**
 * The live pipeline of syscall-events.ts read by RingBuffer.runBlocking() in a worker thread
 * (live-blocking-worker.ts) instead of RingBuffer.start() in the main event loop: the same
 * generator, tracer, ring and per-event work, so the two reader designs compare in one run.
 */
import type { Worker } from 'node:worker_threads';
import { BpfMap, DropCounter, onlineCpus, Program } from 'tsbpf';
import { buildCReference, lastJsonLine } from './c-reference.js';
import { runProcess } from './live-c.js';
import { benchWorker } from './worker-thread.js';
import { pinProcess } from './runner.js';
import {
  GENERATOR_SYSCALLS,
  generatorCommand,
  generatorFields,
  liveCpus,
  syscallTracer,
  type GeneratorOutput,
  type GeneratorSyscall,
  type LiveRunResult,
  type TracerAttach,
} from './syscall-events.js';
import type { BlockingWorkerData } from './live-blocking-worker.js';

/** Grace after the generator exits before the reader is told to finish (longer than any budget). */
const TAIL_MS = 30;

const monoOffsetNs = (() => {
  const a = performance.now();
  const mono = Number(process.hrtime.bigint());
  const b = performance.now();
  return mono - ((a + b) / 2) * 1e6;
})();

/** One run with the blocking reader in a worker thread; the process is pinned to the consumer CPU. */
export async function runLiveBlocking(o: {
  events: number;
  rate?: number;
  split?: boolean;
  ringBytes: number;
  maxLatencyMs: number;
  syscall?: GeneratorSyscall;
  attach?: TracerAttach;
}): Promise<LiveRunResult> {
  const cpus = liveCpus();
  const plan = generatorCommand({
    cpus,
    bin: buildCReference('syscall_loop'),
    count: o.events,
    rate: o.rate ?? 0,
    syscall: o.syscall ?? 'getppid',
    split: o.split,
  });
  const gen = runProcess('taskset', plan.args);
  const pinned = pinProcess(process.pid, [cpus.consumer]);
  const ring = BpfMap.create({ type: 'ringbuf', maxEntries: o.ringBytes, name: 'live_b_events' });
  const drops = DropCounter.create('live_b_drops');
  const resources: { close(): void }[] = [ring, drops];
  let worker: Worker | undefined;
  try {
    const raw = o.attach === 'raw_tp';
    const prog = Program.load({
      type: raw ? 'raw_tracepoint' : 'tracepoint',
      name: 'live_b_tracer',
      instructions: syscallTracer({
        ring,
        drops,
        tgid: gen.proc.pid!,
        wakeup: { kind: 'default' },
        syscall: o.syscall,
        attach: o.attach,
      }),
    });
    resources.push(prog);
    resources.push(raw ? prog.attachRawTracepoint('sys_enter') : prog.attachTracepoint('raw_syscalls', 'sys_enter'));
    const stop = new SharedArrayBuffer(8);
    const flags = new Int32Array(stop);
    const data: BlockingWorkerData = {
      mapId: ring.info().id,
      events: o.events,
      maxLatencyMs: o.maxLatencyMs,
      stop,
      monoOffsetNs,
      threads: plan.threads,
      id: GENERATOR_SYSCALLS[o.syscall ?? 'getppid'].nr,
      tgid: gen.proc.pid!,
    };
    worker = benchWorker(import.meta.url, 'live-blocking-worker', data);
    const w = worker;
    const result = new Promise<Record<string, unknown>>((resolve, reject) => {
      w.on('message', (m: { type: string }) => {
        if (m.type === 'result') resolve(m as Record<string, unknown>);
      });
      w.on('error', reject);
      w.on('exit', (code) => reject(new Error(`blocking reader worker exited ${code}`)));
    });
    await new Promise<void>((resolve, reject) => {
      w.once('message', () => resolve());
      w.once('error', reject);
    });
    Atomics.store(flags, 1, 1);
    Atomics.notify(flags, 1);
    gen.proc.stdin!.write('go\n');
    const g = lastJsonLine<GeneratorOutput>(await gen.done);
    await new Promise((r) => setTimeout(r, TAIL_MS));
    Atomics.store(flags, 0, 1);
    const r = await result;
    return {
      ...(r as unknown as LiveRunResult),
      produced: g.calls,
      lost: drops.read(),
      histogram: null,
      nsPerCall: g.nsPerCall,
      ...generatorFields(g, plan.threads),
    };
  } finally {
    if (gen.proc.exitCode === null) gen.proc.kill('SIGKILL');
    if (worker) await worker.terminate();
    for (const r of resources.reverse()) {
      try {
        r.close();
      } catch {
        /* already closed */
      }
    }
    if (pinned) pinProcess(process.pid, onlineCpus());
  }
}
