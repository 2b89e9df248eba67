/**
 * The `tsbpf bench` runner: loads the suites, runs them one after another with a progress bar on a
 * tty, prints each suite's table (the seed's claim beside the measurement, with a verdict), and
 * assembles one machine-readable document for `--json` and the HTML report.
 */
import { execFileSync } from 'node:child_process';
import { cpus as osCpus, release } from 'node:os';
import { readFileSync } from 'node:fs';
import { onlineCpus } from 'tsbpf';
import type { BenchContext, BenchSuite, Row, SuiteResult } from './suite.js';

/** Every suite, in the order `tsbpf bench` runs them by default. */
export const SUITE_NAMES = [
  'ringbuf',
  'live',
  'wakeup',
  'sizing',
  'perf-vs-ring',
  'backpressure',
  'compression',
  'multi-ring',
  'xdp',
  'maps',
  'percpu',
  'batch',
  'helpers',
  'soak',
] as const;
/** Suites run only when named (`tsbpf bench soak`): minutes long, and they kill processes on purpose. */
const ON_REQUEST: readonly string[] = ['soak'];
export type SuiteName = (typeof SUITE_NAMES)[number];

// Each suite lives in its own module, loaded on demand. The specifier is computed so a suite still
// being written does not break the build; test/bench-suites.test.ts checks every module exists.
const MODULES: Record<SuiteName, string> = {
  ringbuf: 'ringbuf',
  live: 'live',
  wakeup: 'wakeup',
  sizing: 'sizing',
  'perf-vs-ring': 'perf-vs-ring',
  backpressure: 'backpressure',
  compression: 'compression',
  'multi-ring': 'multi-ring',
  xdp: 'xdp',
  maps: 'maps',
  percpu: 'percpu',
  batch: 'batch',
  helpers: 'helpers',
  soak: 'soak',
};
const loadModule = (name: SuiteName): Promise<Record<string, unknown>> =>
  import(new URL(`./${MODULES[name]}.js`, import.meta.url).href) as Promise<Record<string, unknown>>;

/** Options of {@link runBench}. */
export interface BenchOptions {
  /** Suites to run (default: all, in {@link SUITE_NAMES} order). */
  suites?: string[];
  /** Short runs: fewer events and repeats, the same code paths. */
  quick?: boolean;
  /** Repeats per measurement; default 5 (3 with quick). */
  repeats?: number;
  /** Where human-readable output goes (tables, notes). Default process.stdout; null for silence. */
  out?: NodeJS.WritableStream | null;
  /** Progress bar stream (only drawn when it is a tty). Default process.stderr. */
  progressStream?: NodeJS.WriteStream | null;
  /** The command line to record in the document. */
  command?: string;
  /** Read CPU performance counters where a suite can (`--counters`). */
  counters?: boolean;
  /** soak: minutes of steady collection (`--minutes`). */
  minutes?: number;
}

/** The machine a run happened on. */
export interface MachineInfo {
  kernel: string;
  cpuModel: string;
  onlineCpus: number;
  node: string;
  memTotalMiB: number;
}

/** One `tsbpf bench` run: what `--json` writes and the report renders. */
export interface BenchDocument {
  tool: 'tsbpf bench';
  version: string;
  command: string;
  startedAt: string;
  durationMs: number;
  quick: boolean;
  repeats: number;
  machine: MachineInfo;
  suites: SuiteResult[];
  /** Suites that threw: name → message. */
  errors: Record<string, string>;
  /** True when every suite ran and every consistency check passed. */
  ok: boolean;
}

/** Finds the BenchSuite a module exports (`suite`, `default`, or any export that looks like one). */
export function suiteFromModule(mod: Record<string, unknown>, name: string): BenchSuite {
  const isSuite = (x: unknown): x is BenchSuite =>
    typeof x === 'object' &&
    x !== null &&
    typeof (x as BenchSuite).run === 'function' &&
    typeof (x as BenchSuite).name === 'string';
  const candidates = [mod.suite, mod.default, ...Object.values(mod)].filter(isSuite);
  const found = candidates.find((s) => s.name === name) ?? candidates[0];
  if (!found) throw new Error(`suite module for "${name}" exports no BenchSuite ({ name, title, run })`);
  return found;
}

/** Loads a suite by name. */
export async function loadSuite(name: string): Promise<BenchSuite> {
  if (!(SUITE_NAMES as readonly string[]).includes(name))
    throw new RangeError(`unknown bench suite "${name}" (known: ${SUITE_NAMES.join(', ')})`);
  return suiteFromModule(await loadModule(name as SuiteName), name);
}

/** Runs the suites and returns the document; prints tables as it goes. */
export async function runBench(opts: BenchOptions = {}): Promise<BenchDocument> {
  const names =
    opts.suites && opts.suites.length > 0 ? opts.suites : SUITE_NAMES.filter((n) => !ON_REQUEST.includes(n));
  for (const n of names) {
    if (!(SUITE_NAMES as readonly string[]).includes(n))
      throw new RangeError(`unknown bench suite "${n}" (known: ${SUITE_NAMES.join(', ')})`);
  }
  const quick = opts.quick ?? false;
  const repeats = opts.repeats ?? (quick ? 3 : 5);
  if (!Number.isInteger(repeats) || repeats < 1 || repeats > 1000)
    throw new RangeError(`--repeats must be an integer 1..1000, got ${repeats}`);
  const out = opts.out === undefined ? process.stdout : opts.out;
  const print = (s: string) => out?.write(`${s}\n`);
  const started = Date.now();
  const doc: BenchDocument = {
    tool: 'tsbpf bench',
    version: packageVersion(),
    command: opts.command ?? `tsbpf bench ${names.join(' ')}`,
    startedAt: new Date(started).toISOString(),
    durationMs: 0,
    quick,
    repeats,
    machine: machineInfo(),
    suites: [],
    errors: {},
    ok: true,
  };
  print(
    `tsbpf bench — ${doc.machine.cpuModel}, ${doc.machine.onlineCpus} CPUs, Linux ${doc.machine.kernel}, Node ${doc.machine.node}${quick ? ' (quick)' : ''}, median of ${repeats}`,
  );
  const stream = opts.progressStream === undefined ? process.stderr : opts.progressStream;
  for (const [i, name] of names.entries()) {
    const bar = new ProgressBar(stream, `[${i + 1}/${names.length}] ${name}`);
    const ctx: BenchContext = {
      quick,
      repeats,
      progress: (f, label) => bar.update(f, label),
      log: (line) => {
        bar.clear();
        print(`  ${line}`);
      },
      counters: opts.counters === true,
      minutes: opts.minutes,
    };
    const t0 = Date.now();
    try {
      const suite = await loadSuite(name);
      const res = await suite.run(ctx);
      res.durationMs ??= Date.now() - t0;
      bar.done();
      doc.suites.push(res);
      print('');
      print(formatSuite(res));
      if (Object.values(res.checks).some((ok) => !ok)) doc.ok = false;
    } catch (e) {
      bar.done();
      const msg = e instanceof Error ? (e.stack ?? e.message) : String(e);
      doc.errors[name] = msg;
      doc.ok = false;
      print(`\n== ${name}: FAILED ==\n${msg}`);
    }
  }
  doc.durationMs = Date.now() - started;
  print(
    `\n${doc.suites.length} suite(s) in ${(doc.durationMs / 1000).toFixed(1)} s${Object.keys(doc.errors).length ? `; failed: ${Object.keys(doc.errors).join(', ')}` : ''}`,
  );
  return doc;
}

// ---------------------------------------------------------------------------------------------
// Tables

/** Formats a number with 3 significant digits (integers above 1000 as integers). */
export function fmt(v: number | null | undefined): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '-∞';
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  if (a === 0) return '0';
  return v.toPrecision(2);
}

const VERDICT_MARK: Record<string, string> = {
  holds: '✔ holds',
  'does not hold': '✘ does not hold',
  'not comparable': '~ not comparable',
  info: '',
};

/** The text table of one suite: measurement | value | spread | claim | verdict | ratio, then notes and checks. */
export function formatSuite(r: SuiteResult): string {
  const head = ['measurement', 'median', 'spread', 'seed claim', 'verdict', 'ratio'];
  const rows = r.rows.map((row: Row) => [
    row.name,
    `${fmt(row.value)} ${row.unit}`,
    row.spread ? `${fmt(row.spread[0])}–${fmt(row.spread[1])}` : '',
    row.claim ?? '',
    row.verdict ? (VERDICT_MARK[row.verdict] ?? row.verdict) : '',
    row.ratio ? `${fmt(row.ratio.value)}× vs ${row.ratio.against}` : '',
  ]);
  const width = head.map((h, c) => Math.min(48, Math.max(h.length, ...rows.map((x) => strlen(x[c]!)))));
  const line = (cells: string[]) =>
    cells
      .map((s, c) => pad(s, width[c]!))
      .join('  ')
      .trimEnd();
  const lines = [
    `== ${r.suite}: ${r.title}${r.durationMs !== undefined ? ` (${(r.durationMs / 1000).toFixed(1)} s)` : ''} ==`,
    line(head),
    width.map((w) => '─'.repeat(w)).join('  '),
  ];
  for (const [i, x] of rows.entries()) {
    lines.push(line(x));
    const note = r.rows[i]!.note;
    if (note) lines.push(`    ↳ ${note}`);
  }
  for (const n of r.notes) lines.push(`  • ${n}`);
  const checks = Object.entries(r.checks);
  if (checks.length) lines.push(`  checks: ${checks.map(([k, ok]) => `${ok ? '✔' : '✘'} ${k}`).join(', ')}`);
  return lines.join('\n');
}

function strlen(s: string): number {
  return [...s].length;
}
function pad(s: string, w: number): string {
  const n = strlen(s);
  if (n > w) return `${[...s].slice(0, w - 1).join('')}…`;
  return s + ' '.repeat(w - n);
}

// ---------------------------------------------------------------------------------------------
// Progress

/** A one-line progress bar on a tty, drawn only once a suite has run for more than ~1.5 s. */
class ProgressBar {
  readonly #stream: NodeJS.WriteStream | null;
  readonly #prefix: string;
  readonly #t0 = Date.now();
  #last = 0;
  #drawn = false;

  constructor(stream: NodeJS.WriteStream | null, prefix: string) {
    this.#stream = stream?.isTTY ? stream : null;
    this.#prefix = prefix;
  }

  update(fraction: number, label: string): void {
    const s = this.#stream;
    if (!s) return;
    const now = Date.now();
    if (now - this.#t0 < 1500 || now - this.#last < 100) return;
    this.#last = now;
    const f = Math.max(0, Math.min(1, Number.isFinite(fraction) ? fraction : 0));
    const cols = Math.max(40, s.columns ?? 80);
    const barW = 24;
    const filled = Math.round(f * barW);
    const text = `${this.#prefix} [${'█'.repeat(filled)}${'░'.repeat(barW - filled)}] ${String(Math.round(f * 100)).padStart(3)}% ${((now - this.#t0) / 1000).toFixed(0)}s ${label}`;
    s.write(`\r\x1b[2K${[...text].slice(0, cols - 1).join('')}`);
    this.#drawn = true;
  }

  clear(): void {
    if (this.#drawn && this.#stream) this.#stream.write('\r\x1b[2K');
    this.#drawn = false;
  }

  done(): void {
    this.clear();
  }
}

// ---------------------------------------------------------------------------------------------
// Machine

function machineInfo(): MachineInfo {
  let memTotalMiB = 0;
  try {
    const m = /MemTotal:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (m) memTotalMiB = Math.round(Number(m[1]) / 1024);
  } catch {
    /* not Linux */
  }
  return {
    kernel: release(),
    cpuModel: osCpus()[0]?.model.trim() ?? 'unknown CPU',
    onlineCpus: onlineCpus().length,
    node: process.versions.node,
    memTotalMiB,
  };
}

function packageVersion(): string {
  try {
    const url = new URL('../../package.json', import.meta.url);
    return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

/**
 * Pins a process (all its threads) to the given CPUs with taskset. Used by suites to keep a load
 * generator and the consumer on different cores; returns false when taskset is unavailable.
 */
export function pinProcess(pid: number, cpus: number[]): boolean {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', cpus.join(','), String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
