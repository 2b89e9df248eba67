/**
 * The live pipeline of syscall-events.ts with libbpf's C consumer (bench/c/live_consume.c) in
 * place of the tsbpf reader: same generator, tracer, ring and per-event work, so consumer CPU
 * and latency are comparable in one run.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { BpfMap, DropCounter, Program } from 'tsbpf';
import { buildCReference, lastJsonLine } from './c-reference.js';
import {
  generatorCommand,
  generatorFields,
  liveCpus,
  syscallTracer,
  type GeneratorOutput,
  type GeneratorSyscall,
  type TracerAttach,
} from './syscall-events.js';

/** What the C consumer measured in one run. */
export interface LiveCResult {
  produced: number;
  delivered: number;
  lost: number;
  /** As LiveRunResult's: per generator thread. */
  outOfOrder: number;
  nextSeq: number;
  generatorThreads: number;
  generatorRate: number;
  generatorSplit?: number[];
  consumerCpuPct: number;
  consumerCpuPctWhole: number;
  consumerCpuUserPct: number;
  consumerCpuSysPct: number;
  steadyEventsPerSec: number;
  latency: { p50Us: number; p99Us: number; maxUs: number };
  nsPerCall: number;
  wakeups: number;
  drains: number;
}

interface COut {
  delivered: number;
  outOfOrder: number;
  nextSeq: number;
  cpuPct: number;
  cpuPctWhole: number;
  userPct: number;
  sysPct: number;
  steadyEventsPerSec: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
  wakeups: number;
  drains: number;
}

/** Grace after the generator exits before the consumer is told to finish (longer than any budget). */
const TAIL_MS = 30;

/** Spawns a process; `done` resolves its stdout (rejects on a non-zero exit), each stdout line also goes to `onStdoutLine`. */
export function runProcess(
  cmd: string,
  args: string[],
  onStdoutLine?: (l: string) => void,
): { proc: ReturnType<typeof spawn>; done: Promise<string> } {
  const proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '',
    err = '';
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  const rl = createInterface({ input: proc.stdout! });
  rl.on('line', (l) => {
    out += `${l}\n`;
    onStdoutLine?.(l);
  });
  const done = new Promise<string>((resolve, reject) => {
    proc.on('error', reject);
    proc.on('close', (code) => {
      if (code !== 0) reject(new Error(`${args[2] ?? cmd} exited ${code}: ${err}`));
      else resolve(out);
    });
  });
  return { proc, done };
}

/**
 * One run with the C consumer. `budgetMs` > 0: the periodic-timerfd budget strategy (the tsbpf
 * reader's maxLatencyMs); 'default': a wake-up on every readiness (libbpf's default).
 */
export async function runLiveC(o: {
  events: number;
  rate?: number;
  split?: boolean;
  ringBytes: number;
  budgetMs: number | 'default';
  syscall?: GeneratorSyscall;
  attach?: TracerAttach;
}): Promise<LiveCResult> {
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
  const ring = BpfMap.create({ type: 'ringbuf', maxEntries: o.ringBytes, name: 'live_c_events' });
  const drops = DropCounter.create('live_c_drops');
  const resources: { close(): void }[] = [ring, drops];
  let cons: ReturnType<typeof runProcess> | undefined;
  try {
    const raw = o.attach === 'raw_tp';
    const prog = Program.load({
      type: raw ? 'raw_tracepoint' : 'tracepoint',
      name: 'live_c_tracer',
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
    const mode = o.budgetMs === 'default' ? ['default'] : ['budget', String(o.budgetMs * 1000)];
    let ready!: () => void;
    const isReady = new Promise<void>((r) => {
      ready = r;
    });
    cons = runProcess(
      'taskset',
      [
        '-c',
        String(cpus.consumer),
        buildCReference('live_consume'),
        String(ring.info().id),
        String(o.events),
        ...mode,
        `threads=${plan.threads}`,
      ],
      (l) => {
        if (l === 'ready') ready();
      },
    );
    await Promise.race([isReady, cons.done]);
    gen.proc.stdin!.write('go\n');
    const g = lastJsonLine<GeneratorOutput>(await gen.done);
    await new Promise((r) => setTimeout(r, TAIL_MS));
    cons.proc.stdin!.end();
    const c = lastJsonLine<COut>(await cons.done);
    return {
      produced: g.calls,
      delivered: c.delivered,
      lost: drops.read(),
      outOfOrder: c.outOfOrder,
      nextSeq: c.nextSeq,
      ...generatorFields(g, plan.threads),
      consumerCpuPct: c.cpuPct,
      consumerCpuPctWhole: c.cpuPctWhole,
      consumerCpuUserPct: c.userPct,
      consumerCpuSysPct: c.sysPct,
      steadyEventsPerSec: c.steadyEventsPerSec,
      latency: { p50Us: c.p50Us, p99Us: c.p99Us, maxUs: c.maxUs },
      nsPerCall: g.nsPerCall,
      wakeups: c.wakeups,
      drains: c.drains,
    };
  } finally {
    if (gen.proc.exitCode === null) gen.proc.kill('SIGKILL');
    if (cons && cons.proc.exitCode === null) cons.proc.kill('SIGKILL');
    for (const r of resources.reverse()) {
      try {
        r.close();
      } catch {
        /* already closed */
      }
    }
  }
}
