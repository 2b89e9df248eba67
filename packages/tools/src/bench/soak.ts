/**
 * `tsbpf bench soak [--minutes N]` (not part of `npm test` or the default bench run): reliability
 * under time and faults, each section with pass/fail checks.
 *
 * - steady: trace-style collection (the live suite's tracer: syscall 1023 on a raw sys_enter tracepoint) at 1M events/s
 *   for N minutes (default 10) into a reader child process: RSS growth after a one-minute warm-up
 *   (< 5 MiB), the reader's fd count (constant), lost (0), corrupt records (0), p99 latency per minute.
 * - overload: the same at 1M events/s, the reader SIGSTOPped for 2 s mid-run: delivered + lost =
 *   produced exactly, no corrupt record, and no loss later than 1 s after SIGCONT.
 * - kill9: every long-running CLI command (`trace exec|syscalls|open`, `count packets` in a netns) is
 *   killed with SIGKILL once attached: no program, link, XDP/TCX attachment or pin may outlive it.
 *
 * The generator (bench/c/syscall_loop.c) runs two threads when there are two CPUs or more, one on the
 * generator's CPU and one on the reader's (see generatorPlan): one syscall costs ~1 µs on some hosts,
 * so one thread falls short of 1M calls/s.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onlineCpus } from 'tsbpf';
import { buildCReference, lastJsonLine } from './c-reference.js';
import { generatorCommand, liveCpus, type GeneratorCommand, type GeneratorOutput } from './syscall-events.js';
import type { BenchContext, BenchSuite, Row, SuiteResult } from './suite.js';

/** The seed's operating point. */
const RATE = 1_000_000;
const DEFAULT_MINUTES = 10;
const MINUTE_MS = 60_000;
/** A minute window shorter than this share of a minute (the run's last) is named as partial. */
const PARTIAL_MINUTE = 0.95;
/** RSS may grow at most this much after the warm-up minute. */
const RSS_GROWTH_LIMIT_MIB = 5;
/** Ring for the steady run: ~100 ms of events at 1M/s, 40 bytes each (32 + 8 header). */
const STEADY_RING = 1 << 22;
const STEADY_BUDGET_MS = 0.25;
const STOP_MS = 2000;
/** Loss must end within this long after SIGCONT. */
const RECOVER_MS = 1000;
const OVERLOAD_SECONDS = 6;
const STOP_AT_MS = 2000;
/** How long a killed command's kernel objects may take to go (RCU, deferred link release). */
const RELEASE_WAIT_MS = 5000;
/**
 * How long past its nominal end a steady generator may run before it is cut: one on schedule ends
 * within milliseconds of it, and without the grace it was cut a few dozen calls short about every
 * other run, reported as "fell behind".
 */
const DEADLINE_GRACE_MS = 2000;

const here = dirname(fileURLToPath(import.meta.url));
/** The reader script next to this module (.ts under tsx, .js when built), run with this process's loader flags. */
const READER = join(here, `soak-reader${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`);
const CLI = join(here, '..', 'cli', `main${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`);

/**
 * How the soak runs its generator: the command line and a sentence for the report. With two CPUs
 * or more, two threads sharing one 1M/s schedule, one on the generator's CPU and one on the
 * reader's (syscall-events.ts's generatorCommand, which the live bench's paced runs use too).
 */
export function generatorPlan(
  cpus: { generator: number; consumer: number },
  seconds: number,
  bin: string,
): GeneratorCommand {
  return generatorCommand({ cpus, bin, count: RATE * seconds, rate: RATE, syscall: 'nosys', split: true });
}

interface ReaderLine {
  t: number;
  nextSeq: number;
  threadSeqs?: number[];
  delivered: number;
  lost: number;
  corrupt: number;
  p99Us: number | null;
  maxUs: number;
  minuteP99Us?: number | null;
  minuteEvents?: number;
  /** How long that minute's window really was (the last one is cut short when the run ends). */
  minuteSpanMs?: number;
  final?: boolean;
  ready?: boolean;
}

function procRssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}
const procFds = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;

/** One collection: generator paced at RATE for `seconds`, a reader child; `during` runs once the generator started. */
async function collect(
  seconds: number,
  opts: {
    deadlineMs?: number;
    ringBytes: number;
    maxLatencyMs: number;
    reportMs: number;
    minuteMs: number;
    onLine?: (l: ReaderLine, readerPid: number) => void;
    during?: (reader: ChildProcess) => Promise<void>;
  },
): Promise<{
  produced: number;
  truncated: boolean;
  final: ReaderLine;
  lines: ReaderLine[];
  generator: string;
  threads: number;
  perThread?: GeneratorOutput['threads'];
}> {
  const cpus = liveCpus();
  const plan = generatorPlan(cpus, seconds, buildCReference('syscall_loop'));
  const gen = spawn('taskset', plan.args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let genOut = '';
  let genErr = '';
  gen.stdout.setEncoding('utf8').on('data', (d: string) => {
    genOut += d;
  });
  gen.stderr.setEncoding('utf8').on('data', (d: string) => {
    genErr += d;
  });
  const genDone = new Promise<GeneratorOutput>((resolve, reject) =>
    gen.on('close', (code) =>
      code === 0
        ? resolve(lastJsonLine<GeneratorOutput>(genOut))
        : reject(new Error(`syscall_loop exited ${code}: ${genErr}`)),
    ),
  );
  const cfg = {
    tgid: gen.pid!,
    threads: plan.threads,
    ringBytes: opts.ringBytes,
    maxLatencyMs: opts.maxLatencyMs,
    reportMs: opts.reportMs,
    minuteMs: opts.minuteMs,
  };
  const reader = spawn(
    'taskset',
    ['-c', String(cpus.consumer), process.execPath, ...process.execArgv, READER, JSON.stringify(cfg)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const lines: ReaderLine[] = [];
  let buf = '';
  let readyResolve!: () => void;
  const ready = new Promise<void>((r) => {
    readyResolve = r;
  });
  let finalResolve!: (l: ReaderLine) => void;
  const final = new Promise<ReaderLine>((r) => {
    finalResolve = r;
  });
  reader.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const l = JSON.parse(buf.slice(0, nl)) as ReaderLine;
      buf = buf.slice(nl + 1);
      if (l.ready) {
        readyResolve();
        continue;
      }
      lines.push(l);
      opts.onLine?.(l, reader.pid!);
      if (l.final) finalResolve(l);
    }
  });
  const readerExit = new Promise<number | null>((r) => reader.on('close', (code) => r(code)));
  try {
    await Promise.race([
      ready,
      readerExit.then((c) => {
        throw new Error(`soak reader exited ${c} before attaching`);
      }),
    ]);
    gen.stdin.write('go\n');
    const tGo = performance.now();
    if (opts.during) await opts.during(reader);
    // A machine that cannot generate 1M/s would stretch the run: stop the generator at the deadline.
    let truncated = false;
    const cut =
      opts.deadlineMs === undefined
        ? undefined
        : setTimeout(
            () => {
              truncated = true;
              gen.kill('SIGKILL');
            },
            Math.max(0, opts.deadlineMs - (performance.now() - tGo)),
          );
    const g = await genDone.catch((e: Error) => {
      if (truncated) return undefined;
      throw e;
    });
    if (cut) clearTimeout(cut);
    await new Promise((r) => setTimeout(r, 300)); // the last records' drain
    reader.kill('SIGTERM');
    const f = await final;
    // Cut short: the generator's count is gone with it; the last call number of each thread that the
    // tracer recorded bounds it (nextSeq sums them; a loss right at the end would hide the last few).
    // (A generator that finished just as the deadline fired still reported its exact count.)
    return {
      produced: g ? g.calls : f.nextSeq,
      truncated: g === undefined,
      final: f,
      lines,
      generator: plan.description,
      threads: plan.threads,
      perThread: g?.threads,
    };
  } finally {
    if (gen.exitCode === null) gen.kill('SIGKILL');
    if (reader.exitCode === null) {
      reader.kill('SIGCONT');
      reader.kill('SIGKILL');
    }
  }
}

/** Steady collection at 1M events/s for `minutes`. */
export async function steady(
  minutes: number,
  log: (s: string) => void,
): Promise<{ rows: Row[]; checks: Record<string, boolean>; extra: Record<string, unknown> }> {
  const samples: { t: number; rssKiB: number; fds: number; lost: number }[] = [];
  const perMinute: { minute: number; p99Us: number | null; events: number; spanMs: number }[] = [];
  let lastLog = 0;
  const r = await collect(minutes * 60, {
    deadlineMs: minutes * MINUTE_MS + DEADLINE_GRACE_MS,
    ringBytes: STEADY_RING,
    maxLatencyMs: STEADY_BUDGET_MS,
    reportMs: 1000,
    minuteMs: MINUTE_MS,
    onLine: (l, pid) => {
      if (!l.final) {
        try {
          samples.push({ t: l.t, rssKiB: procRssKiB(pid), fds: procFds(pid), lost: l.lost });
        } catch {
          /* exiting */
        }
      }
      if (l.minuteP99Us !== undefined)
        perMinute.push({
          minute: perMinute.length + 1,
          p99Us: l.minuteP99Us,
          events: l.minuteEvents ?? 0,
          spanMs: l.minuteSpanMs ?? MINUTE_MS,
        });
      if (l.t - lastLog >= 30_000) {
        lastLog = l.t;
        log(
          `  steady: ${(l.t / 1000).toFixed(0)} s, ${l.delivered.toLocaleString('en-US')} delivered, ${l.lost} lost, RSS ${((samples.at(-1)?.rssKiB ?? 0) / 1024) | 0} MiB`,
        );
      }
    },
  });
  const warm = samples.filter((s) => s.t >= Math.min(MINUTE_MS, (minutes * MINUTE_MS) / 2));
  const rssWarm = warm[0]?.rssKiB ?? NaN;
  const rssEnd = Math.max(...warm.map((s) => s.rssKiB));
  const growthMiB = (rssEnd - rssWarm) / 1024;
  const fdSet = new Set(samples.filter((s) => s.t >= 1000).map((s) => s.fds));
  const f = r.final;
  const seconds = (r.lines.filter((l) => !l.final).at(-1)?.t ?? minutes * MINUTE_MS) / 1000;
  const rows: Row[] = [
    {
      name: `steady: events produced (1M/s paced, ${r.threads} generator thread${r.threads > 1 ? 's' : ''}${r.truncated ? '; generator fell behind and was stopped at the deadline' : ''})`,
      value: r.produced,
      unit: 'events',
      verdict: 'info',
    },
    {
      name: 'steady: achieved generator rate',
      value: Math.round(r.produced / seconds),
      unit: 'events/s',
      verdict: r.produced / seconds >= 0.95 * RATE ? 'holds' : 'does not hold',
    },
    { name: 'steady: delivered', value: f.delivered, unit: 'events', verdict: 'info' },
    { name: 'steady: lost', value: f.lost, unit: 'events', verdict: f.lost === 0 ? 'holds' : 'does not hold' },
    {
      name: 'steady: corrupt records',
      value: f.corrupt,
      unit: 'records',
      verdict: f.corrupt === 0 ? 'holds' : 'does not hold',
    },
    {
      name: `steady: reader RSS growth after the warm-up (limit ${RSS_GROWTH_LIMIT_MIB} MiB)`,
      value: Number(growthMiB.toFixed(2)),
      unit: 'MiB',
      verdict: growthMiB < RSS_GROWTH_LIMIT_MIB ? 'holds' : 'does not hold',
    },
    {
      name: 'steady: reader fd count (distinct values after start)',
      value: fdSet.size,
      unit: 'values',
      verdict: fdSet.size === 1 ? 'holds' : 'does not hold',
    },
    ...perMinute.map((m) => ({
      name:
        m.spanMs < MINUTE_MS * PARTIAL_MINUTE
          ? `steady: p99 latency, last ${(m.spanMs / 1000).toFixed(1)} s (a partial minute, ${m.events.toLocaleString('en-US')} events)`
          : `steady: p99 latency, minute ${m.minute} (${m.events.toLocaleString('en-US')} events)`,
      value: m.p99Us ?? NaN,
      unit: 'µs',
      verdict: 'info' as const,
    })),
  ];
  return {
    rows,
    checks: {
      [`steady: delivered + lost = produced${r.truncated ? ' (as far as recorded: cut at the deadline)' : ''}`]:
        f.delivered + f.lost === r.produced,
      'steady: the generator sustained 1M events/s (95%)': r.produced / seconds >= 0.95 * RATE,
      'steady: 0 lost': f.lost === 0,
      'steady: 0 corrupt records': f.corrupt === 0,
      [`steady: RSS growth after warm-up < ${RSS_GROWTH_LIMIT_MIB} MiB`]: growthMiB < RSS_GROWTH_LIMIT_MIB,
      'steady: fd count constant': fdSet.size === 1,
    },
    extra: {
      minutes,
      generator: r.generator,
      generatorThreads: r.perThread,
      recordedPerThread: f.threadSeqs,
      truncated: r.truncated,
      seconds,
      produced: r.produced,
      delivered: f.delivered,
      lost: f.lost,
      corrupt: f.corrupt,
      rssWarmKiB: rssWarm,
      rssMaxKiB: rssEnd,
      fds: [...fdSet],
      perMinute,
      samples,
    },
  };
}

/** 1M events/s, the reader SIGSTOPped for 2 s. */
export async function overload(
  log: (s: string) => void,
): Promise<{ rows: Row[]; checks: Record<string, boolean>; extra: Record<string, unknown> }> {
  const r = await collect(OVERLOAD_SECONDS, {
    ringBytes: STEADY_RING,
    maxLatencyMs: STEADY_BUDGET_MS,
    reportMs: 100,
    minuteMs: MINUTE_MS,
    during: async (reader) => {
      await new Promise((res) => setTimeout(res, STOP_AT_MS));
      reader.kill('SIGSTOP');
      await new Promise((res) => setTimeout(res, STOP_MS));
      reader.kill('SIGCONT');
    },
  });
  // Reader lines carry its own clock (t); the first line after SIGCONT marks the resume on that clock.
  const t0Reader = r.lines.find((l, i) => i > 0 && l.t - r.lines[i - 1]!.t >= STOP_MS - 200)?.t;
  // The time of the last report that saw the loss counter still rising.
  let lastLossT = -Infinity;
  for (let i = 1; i < r.lines.length; i++) if (r.lines[i]!.lost > r.lines[i - 1]!.lost) lastLossT = r.lines[i]!.t;
  const f = r.final;
  const recoveredMs = t0Reader === undefined ? NaN : Math.max(0, lastLossT - t0Reader);
  log(
    `  overload: produced ${r.produced}, delivered ${f.delivered}, lost ${f.lost}, corrupt ${f.corrupt}, loss ended ${recoveredMs.toFixed(0)} ms after resume`,
  );
  return {
    rows: [
      { name: 'overload: produced (1M/s, reader stopped 2 s)', value: r.produced, unit: 'events', verdict: 'info' },
      { name: 'overload: delivered', value: f.delivered, unit: 'events', verdict: 'info' },
      { name: 'overload: lost', value: f.lost, unit: 'events', verdict: 'info' },
      {
        name: 'overload: delivered + lost − produced',
        value: f.delivered + f.lost - r.produced,
        unit: 'events',
        verdict: f.delivered + f.lost === r.produced ? 'holds' : 'does not hold',
      },
      {
        name: 'overload: corrupt records',
        value: f.corrupt,
        unit: 'records',
        verdict: f.corrupt === 0 ? 'holds' : 'does not hold',
      },
      {
        name: `overload: last loss after resume (limit ${RECOVER_MS} ms; report granularity 100 ms)`,
        value: recoveredMs,
        unit: 'ms',
        verdict: recoveredMs <= RECOVER_MS ? 'holds' : 'does not hold',
      },
    ],
    checks: {
      'overload: delivered + lost = produced exactly': f.delivered + f.lost === r.produced,
      'overload: no corrupt record': f.corrupt === 0,
      'overload: some loss while stopped (the ring cannot hold 2 s)': f.lost > 0,
      [`overload: back to 0 loss within ${RECOVER_MS} ms of SIGCONT`]: recoveredMs <= RECOVER_MS,
    },
    extra: {
      generator: r.generator,
      generatorThreads: r.perThread,
      produced: r.produced,
      delivered: f.delivered,
      lost: f.lost,
      corrupt: f.corrupt,
      recoveredMs,
      timeline: r.lines.map((l) => ({ t: l.t, delivered: l.delivered, lost: l.lost })),
    },
  };
}

// ---- kill -9 ----------------------------------------------------------------------------------

/** Program or link ids now, with their holders' pids where bpftool reports them. */
function bpftoolIds(what: 'prog' | 'link'): Map<number, number[] | undefined> {
  const r = spawnSync('bpftool', ['-j', what, 'show'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`bpftool ${what} show: ${r.stderr}`);
  return new Map(
    (JSON.parse(r.stdout || '[]') as { id: number; pids?: { pid: number }[] }[]).map((x) => [
      x.id,
      x.pids?.map((p) => p.pid),
    ]),
  );
}

function pins(dir = '/sys/fs/bpf'): Set<string> {
  const out = new Set<string>();
  const walk = (d: string): void => {
    let ents: import('node:fs').Dirent[];
    try {
      ents = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of ents) {
      const p = join(d, e.name);
      out.add(p);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

/** The program and link ids a process holds fds for (from /proc/PID/fdinfo: exact, unlike a system-wide diff). */
function heldIds(pid: number): { progs: Set<number>; links: Set<number> } {
  const progs = new Set<number>(),
    links = new Set<number>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let info = '';
    try {
      info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue;
    }
    const link = /^link_id:\s*(\d+)/m.exec(info);
    const prog = /^prog_id:\s*(\d+)/m.exec(info);
    if (link) {
      links.add(Number(link[1]));
      if (prog) progs.add(Number(prog[1]));
    } else if (prog) progs.add(Number(prog[1]));
  }
  return { progs, links };
}

interface KillCase {
  name: string;
  args: string[];
  netns?: boolean;
}
const KILL_CASES: KillCase[] = [
  { name: 'trace exec', args: ['trace', 'exec'] },
  { name: 'trace syscalls', args: ['trace', 'syscalls'] },
  { name: 'trace open', args: ['trace', 'open'] },
  { name: 'count packets (XDP, netns)', args: ['count', 'packets', '-i', 'SOAKVETH'], netns: true },
];

/** Kills each long-running command with SIGKILL once it has attached; checks nothing it made survives. */
export async function kill9(
  log: (s: string) => void,
): Promise<{ rows: Row[]; checks: Record<string, boolean>; extra: Record<string, unknown> }> {
  const rows: Row[] = [];
  const checks: Record<string, boolean> = {};
  const results: Record<string, unknown>[] = [];
  for (const c of KILL_CASES) {
    const ns = `tsbpf-soak-${process.pid}`;
    const veth = `tsk${process.pid % 100000}`;
    const peer = `tskp${process.pid % 100000}`;
    if (c.netns) {
      spawnSync('ip', ['netns', 'add', ns]);
      spawnSync('ip', ['-n', ns, 'link', 'add', veth, 'type', 'veth', 'peer', 'name', peer]);
      spawnSync('ip', ['-n', ns, 'link', 'set', veth, 'up']);
      spawnSync('ip', ['-n', ns, 'link', 'set', peer, 'up']);
    }
    try {
      const pinsBefore = pins();
      const args = [...process.execArgv, CLI, ...c.args.map((a) => (a === 'SOAKVETH' ? veth : a))];
      const child = c.netns
        ? spawn('ip', ['netns', 'exec', ns, process.execPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
        : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        out += d;
      });
      child.stderr!.setEncoding('utf8').on('data', (d: string) => {
        out += d;
      });
      const exited = new Promise<void>((r) => child.on('close', () => r()));
      // Attached: the process holds at least one program fd (polled from /proc, no output format assumed).
      const t0 = performance.now();
      let held = { progs: new Set<number>(), links: new Set<number>() };
      while (performance.now() - t0 < 15_000 && child.exitCode === null) {
        try {
          held = heldIds(child.pid!);
        } catch {
          /* starting */
        }
        if (held.links.size > 0 || (c.netns && held.progs.size > 0)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      await new Promise((r) => setTimeout(r, 500)); // every attachment made, output started
      try {
        held = heldIds(child.pid!);
      } catch {
        /* died: the checks below say so */
      }
      const newProgs = [...held.progs];
      const newLinks = [...held.links];
      const attachedXdp = c.netns
        ? /xdp/.test(spawnSync('ip', ['-n', ns, 'link', 'show', 'dev', veth], { encoding: 'utf8' }).stdout)
        : false;
      child.kill('SIGKILL');
      await exited;
      // Wait for the kernel to release what the fds held.
      const t1 = performance.now();
      let leftProgs: number[] = [],
        leftLinks: number[] = [],
        leftPins: string[] = [],
        xdpLeft = false,
        tcLeft = '';
      do {
        await new Promise((r) => setTimeout(r, 200));
        const p = bpftoolIds('prog'),
          l = bpftoolIds('link');
        leftProgs = newProgs.filter((id) => p.has(id));
        leftLinks = newLinks.filter((id) => l.has(id));
        leftPins = [...pins()].filter((x) => !pinsBefore.has(x));
        if (c.netns) {
          xdpLeft = /xdp/.test(spawnSync('ip', ['-n', ns, 'link', 'show', 'dev', veth], { encoding: 'utf8' }).stdout);
          tcLeft = spawnSync('ip', ['netns', 'exec', ns, 'bpftool', 'net', 'show', 'dev', veth], { encoding: 'utf8' })
            .stdout.replace(/^\S+:\s*$/gm, '')
            .trim();
        }
      } while ((leftProgs.length || leftLinks.length || xdpLeft) && performance.now() - t1 < RELEASE_WAIT_MS);
      const clean = leftProgs.length === 0 && leftLinks.length === 0 && leftPins.length === 0 && !xdpLeft;
      const attached = newProgs.length > 0;
      log(
        `  kill -9 ${c.name}: attached ${newProgs.length} program(s), ${newLinks.length} link(s)${c.netns ? `, XDP ${attachedXdp}` : ''}; left: ${leftProgs.length} programs, ${leftLinks.length} links, ${leftPins.length} pins${c.netns ? `, XDP ${xdpLeft}` : ''}`,
      );
      rows.push({
        name: `kill -9 ${c.name}: programs + links + pins + XDP/TCX left`,
        value: leftProgs.length + leftLinks.length + leftPins.length + (xdpLeft ? 1 : 0),
        unit: 'objects',
        verdict: clean && attached ? 'holds' : 'does not hold',
      });
      checks[`kill -9 ${c.name}: it had attached (${newProgs.length} programs)`] = attached;
      checks[`kill -9 ${c.name}: nothing left behind`] = clean;
      results.push({
        command: `tsbpf ${c.args.join(' ')}`,
        newProgs,
        newLinks,
        attachedXdp,
        leftProgs,
        leftLinks,
        leftPins,
        xdpLeft,
        bpftoolNet: tcLeft,
        output: out.slice(0, 400),
      });
    } finally {
      if (c.netns) spawnSync('ip', ['netns', 'del', ns]);
    }
  }
  return { rows, checks, extra: { results } };
}

/** The bench suite: runs steady (ctx.minutes, 1 with --quick), overload and kill9. */
export const suite: BenchSuite = {
  name: 'soak',
  title: 'Soak and faults: 1M events/s for minutes, reader stopped, kill -9 of every long-running command',
  async run(ctx: BenchContext): Promise<SuiteResult> {
    const minutes = ctx.minutes ?? (ctx.quick ? 1 : DEFAULT_MINUTES);
    if (onlineCpus().length < 2) ctx.log('note: one CPU: generator and reader share it');
    const generator = generatorPlan(liveCpus(), 1, 'syscall_loop').description;
    const sections = (process.env.TSBPF_SOAK_SECTIONS ?? 'steady,overload,kill9').split(',');
    const rows: Row[] = [];
    const checks: Record<string, boolean> = {};
    const extra: Record<string, unknown> = {};
    const notes: string[] = [];
    const add = (name: string, r: { rows: Row[]; checks: Record<string, boolean>; extra: Record<string, unknown> }) => {
      rows.push(...r.rows);
      Object.assign(checks, r.checks);
      extra[name] = r.extra;
    };
    if (sections.includes('steady')) {
      ctx.log(`steady: ${minutes} min at 1M events/s`);
      add('steady', await steady(minutes, ctx.log));
    }
    if (sections.includes('overload')) {
      ctx.log('overload: reader stopped 2 s at 1M events/s');
      add('overload', await overload(ctx.log));
    }
    if (sections.includes('kill9')) {
      if (!existsSync('/sys/fs/bpf')) notes.push('no bpffs mounted: pins not checked');
      ctx.log('kill9: SIGKILL every long-running command once attached');
      add('kill9', await kill9(ctx.log));
    }
    if (sections.includes('steady') || sections.includes('overload'))
      notes.push(
        `${generator[0]!.toUpperCase()}${generator.slice(1)} (bench/c/syscall_loop.c; thread k numbers its calls k·2^40 + i and the reader checks each thread's sequence).`,
      );
    notes.push(
      `Run: tsbpf bench soak --minutes ${minutes}${process.env.TSBPF_SOAK_SECTIONS ? ` (TSBPF_SOAK_SECTIONS=${process.env.TSBPF_SOAK_SECTIONS})` : ''}.`,
    );
    return { suite: 'soak', title: suite.title, rows, charts: [], notes, checks, extra };
  },
};
