/** `tsbpf trace exec|syscalls|open`: flags, output formats and the final summary. */
import { type Command, Option } from 'commander';
import { errnoName } from 'tsbpf';
import { EXEC_MODES, type ExecMode } from '../labs/exec-programs.js';
import { monotonicNowNs } from '../labs/latency.js';
import { compileFilter, FilterSyntaxError, type EventPredicate, type FieldKind } from '../labs/event-filter.js';
import type { TaskFilter } from '../labs/task-filter.js';
import { OVERLOAD_MODES, type OverloadMode } from '../labs/overload-policy.js';
import { traceExec } from '../labs/trace-exec.js';
import { openFlagsText, traceOpen } from '../labs/trace-open.js';
import type { TraceSummary } from '../labs/trace-session.js';
import { summarizeSyscalls, traceSyscalls } from '../labs/trace-syscalls.js';
import {
  clockTime,
  formatCount,
  formatNs,
  formatRate,
  formatTable,
  paintFor,
  rowFormatter,
  writeJsonLine,
  type Paint,
} from './output.js';
import { durationOption, intIn, jsonOption, nonEmpty } from './options.js';
import { runAction, UsageError } from './run.js';

/** The wall-clock time of a kernel timestamp (CLOCK_MONOTONIC ns). */
function wallTime(ktimeNs: number): Date {
  return new Date(Date.now() - (monotonicNowNs() - ktimeNs) / 1e6);
}

function printSummary(
  command: string,
  s: TraceSummary,
  json: boolean | undefined,
  extra: Record<string, unknown>,
  paint: Paint,
): void {
  if (json) {
    writeJsonLine({
      type: 'summary',
      ...extra,
      events: s.events,
      durationS: s.durationS,
      eventsPerSec: s.eventsPerSec,
      dropped: s.dropped,
      latencyNs: { p50: s.latency.p50Ns, p99: s.latency.p99Ns, max: s.latency.maxNs },
      reason: s.reason,
    });
    return;
  }
  const l = s.latency;
  process.stderr.write(
    `\n${paint('bold', `${command}:`)} ${formatCount(s.events)} events in ${s.durationS.toFixed(1)} s (${formatRate(s.eventsPerSec)}/s), ` +
      `${s.dropped ? paint('red', `${formatCount(s.dropped)} dropped`) : '0 dropped'}${s.sampledOut !== undefined ? `, ${formatCount(s.sampledOut)} sampled out by --overload sample (now keeping 1 in ${s.keepOneIn ?? 1} low-priority events)` : ''}${typeof extra.filteredOut === 'number' ? `, ${formatCount(extra.filteredOut)} filtered out by --filter` : ''}; latency p50 ${formatNs(l.p50Ns)}, p99 ${formatNs(l.p99Ns)}, max ${formatNs(l.maxNs)}. Detached.\n`,
  );
}

function filterFrom(opts: { pid?: number; comm?: string }): TaskFilter {
  // The tracer's own syscalls (epoll, writes of the output) would otherwise trace themselves.
  const f: TaskFilter = { excludePid: process.pid };
  if (opts.pid !== undefined) f.pid = opts.pid;
  if (opts.comm !== undefined) f.comm = opts.comm;
  return f;
}

/** The fields `--filter` may name, per command: the decoded event's JSON fields. */
const FILTER_FIELDS: Record<'exec' | 'syscalls' | 'open', Record<string, FieldKind>> = {
  exec: { time: 'string', timestampNs: 'number', pid: 'number', uid: 'number', comm: 'string', latencyNs: 'number' },
  syscalls: {
    time: 'string',
    timestampNs: 'number',
    comm: 'string',
    pid: 'number',
    tid: 'number',
    nr: 'number',
    syscall: 'string',
    durationNs: 'number',
    ret: 'number',
    error: 'string',
    latencyNs: 'number',
  },
  open: {
    time: 'string',
    timestampNs: 'number',
    pid: 'number',
    tid: 'number',
    comm: 'string',
    flags: 'number',
    flagsText: 'string',
    filename: 'string',
    recordBytes: 'number',
    latencyNs: 'number',
  },
};

/**
 * The user-space filter of one trace command: compiled before anything is loaded (a bad expression is a
 * usage error pointing at the token), applied to each decoded event, counting what it filtered out.
 */
class UserFilter {
  readonly #pass: EventPredicate | undefined;
  filteredOut = 0;
  constructor(expression: string | undefined, command: keyof typeof FILTER_FIELDS) {
    try {
      this.#pass = expression === undefined ? undefined : compileFilter(expression, FILTER_FIELDS[command]);
    } catch (e) {
      if (e instanceof FilterSyntaxError) throw new UsageError(`--filter: ${e.message}`);
      throw e;
    }
  }
  /** True when `record` should be printed. */
  admits(record: Readonly<Record<string, unknown>>): boolean {
    if (!this.#pass || this.#pass(record)) return true;
    this.filteredOut++;
    return false;
  }
  /** Summary fields: nothing without a filter. */
  summary(): Record<string, unknown> {
    return this.#pass ? { filteredOut: this.filteredOut } : {};
  }
}

const overloadOption = (high: string) =>
  new Option(
    '--overload <policy>',
    `when the ring buffer fills: drop (new events are lost, counted) or sample (in the kernel, keep 1 low-priority event in N as the ring fills, N doubling with the fill level; ${high}; sampled-away events are counted apart from lost ones)`,
  )
    .choices(OVERLOAD_MODES as string[])
    .default('drop');

/** The summary fields of the overload policy (always the mode; the counts with sample). */
function overloadFields(mode: OverloadMode, s: TraceSummary): Record<string, unknown> {
  return mode === 'sample'
    ? { overload: mode, sampledOut: s.sampledOut ?? 0, keepOneIn: s.keepOneIn ?? 1 }
    : { overload: mode };
}

const filterOption = () =>
  new Option(
    '-f, --filter <expr>',
    "print only events matching EXPR, over the event's fields: == != < <= > >= ~ (regex) && || ! ( ); filtered in Node, after the kernel-side filters (see docs/cli.md)",
  );

function readyLine(what: string): void {
  process.stderr.write(`Tracing ${what}; Ctrl-C to stop.\n`);
}

const pidOption = () =>
  new Option('-p, --pid <pid>', 'only this process (tgid); filtered in the kernel').argParser(intIn(1, 0x7fffffff));
const commOption = () =>
  new Option(
    '-c, --comm <name>',
    'only tasks with this command name (first 15 bytes, as the kernel keeps it); filtered in the kernel',
  ).argParser(nonEmpty('command name', 64));

/** Adds `trace` and its subcommands. */
export function registerTraceCommand(program: Command): void {
  const trace = program.command('trace').description('trace events in the kernel: exec, syscalls, open');

  trace
    .command('exec')
    .description('trace every exec (sched:sched_process_exec) through a BPF ring buffer (Lab 12.2)')
    .addOption(
      new Option(
        '-m, --mode <mode>',
        'zerocopy: ringbuf_reserve + submit; copy: build on the stack + ringbuf_output; filtered: reserve, then discard when pid < --min-pid',
      )
        .choices(EXEC_MODES as string[])
        .default('zerocopy'),
    )
    .addOption(
      new Option('--min-pid <pid>', 'filtered mode: discard (without a wakeup) events of pids below this')
        .argParser(intIn(0, 0x7fffffff))
        .default(1000),
    )
    .addOption(filterOption())
    .addOption(overloadOption('every exec is low priority, so the stream thins evenly'))
    .addOption(durationOption())
    .addOption(jsonOption())
    .addHelpText(
      'after',
      `
Columns: TIME PID UID COMM. The summary (stderr; a "summary" JSON line with --json) gives events,
events/s, events dropped by the BPF program when the ring was full, and the latency from
bpf_ktime_get_ns() in the kernel to receipt in Node (p50/p99/max).

Examples:
  tsbpf trace exec
  tsbpf trace exec --mode filtered --min-pid 2000 --duration 10 --json`,
    )
    .action(
      (opts: {
        mode: ExecMode;
        minPid: number;
        filter?: string;
        overload: OverloadMode;
        duration?: number;
        json?: boolean;
      }) =>
        runAction('tsbpf trace exec', 'tracing', async () => {
          const paint = paintFor(process.stdout);
          const userFilter = new UserFilter(opts.filter, 'exec');
          if (opts.mode !== 'filtered' && process.argv.some((a) => a === '--min-pid' || a.startsWith('--min-pid=')))
            throw new UsageError('--min-pid only applies to --mode filtered');
          const cols = rowFormatter([
            { header: 'TIME', width: 12 },
            { header: 'PID', align: 'right', width: 7 },
            { header: 'UID', align: 'right', width: 6 },
            { header: 'COMM' },
          ]);
          const s = await traceExec({
            mode: opts.mode,
            minPid: opts.minPid,
            durationS: opts.duration,
            overload: opts.overload,
            onAttached: () => {
              readyLine(`exec (sched:sched_process_exec, ${opts.mode})`);
              if (!opts.json) process.stdout.write(`${paint('bold', cols.header)}\n`);
            },
            onEvent: (e) => {
              const time = wallTime(e.timestampNs);
              const record = {
                time: time.toISOString(),
                timestampNs: e.timestampNs,
                pid: e.pid,
                uid: e.uid,
                comm: e.comm,
                latencyNs: Math.round(e.latencyNs),
              };
              if (!userFilter.admits(record)) return;
              if (opts.json) writeJsonLine({ type: 'exec', ...record });
              else process.stdout.write(`${cols.row([clockTime(time), String(e.pid), String(e.uid), e.comm])}\n`);
            },
          });
          printSummary(
            'trace exec',
            s,
            opts.json,
            { mode: s.mode, ...overloadFields(opts.overload, s), ...userFilter.summary() },
            paintFor(opts.json ? process.stdout : process.stderr),
          );
        }),
    );

  trace
    .command('syscalls')
    .description('trace syscalls with their duration and return value (raw_syscalls:sys_enter/sys_exit, Chapter 28)')
    .addOption(pidOption())
    .addOption(commOption())
    .addOption(
      new Option(
        '--min-duration-us <us>',
        'only syscalls that took at least this long; filtered in the kernel',
      ).argParser(intIn(0, 3_600_000_000)),
    )
    .addOption(
      new Option('-b, --buffer <kind>', 'event transport: ring (BPF ring buffer) or perf (per-CPU perf buffer)')
        .choices(['ring', 'perf'])
        .default('ring'),
    )
    .addOption(
      new Option(
        '-s, --summary',
        'count per syscall in the kernel and print a table at the end (like strace -c); no per-event output',
      ),
    )
    .addOption(filterOption())
    .addOption(overloadOption('failed syscalls are high priority and always sent; ring buffer only'))
    .addOption(durationOption())
    .addOption(jsonOption())
    .addHelpText(
      'after',
      `
Columns: TIME COMM PID TID SYSCALL DURATION RET. Syscall names come from the x86_64 table generated
from the system headers; numbers newer than the headers show as numbers. The tracer's own process
is always excluded. --summary aggregates count, errors, total and max time per syscall in a per-CPU
array: nothing crosses per event.

Examples:
  tsbpf trace syscalls --comm nginx --min-duration-us 1000
  tsbpf trace syscalls --pid 1234 --buffer perf --json
  tsbpf trace syscalls --comm make --summary --duration 30`,
    )
    .action(
      (opts: {
        pid?: number;
        comm?: string;
        minDurationUs?: number;
        buffer: 'ring' | 'perf';
        summary?: boolean;
        filter?: string;
        overload: OverloadMode;
        duration?: number;
        json?: boolean;
      }) =>
        runAction('tsbpf trace syscalls', 'tracing', async () => {
          const paint = paintFor(process.stdout);
          const userFilter = new UserFilter(opts.filter, 'syscalls');
          if (opts.overload === 'sample' && opts.buffer === 'perf')
            throw new UsageError(
              "--overload sample needs --buffer ring (it reads the ring's fill level; a perf buffer has none)",
            );
          const filter = filterFrom(opts);
          const minDurationNs = (opts.minDurationUs ?? 0) * 1000;
          const what = `syscalls (raw_syscalls${opts.pid ? `, pid ${opts.pid}` : ''}${opts.comm ? `, comm ${opts.comm}` : ''}${minDurationNs ? `, >= ${opts.minDurationUs} µs` : ''})`;
          if (opts.summary) {
            if (process.argv.some((a) => a === '--buffer' || a === '-b' || a.startsWith('--buffer=')))
              throw new UsageError('--buffer does not apply to --summary (nothing crosses per event)');
            if (opts.filter !== undefined)
              throw new UsageError(
                '--filter does not apply to --summary (nothing crosses per event); use --pid, --comm or --min-duration-us',
              );
            if (opts.overload !== 'drop')
              throw new UsageError('--overload does not apply to --summary (nothing crosses per event)');
            const r = await summarizeSyscalls({
              filter,
              minDurationNs,
              durationS: opts.duration,
              onAttached: () => readyLine(`${what}, summarizing in the kernel`),
            });
            const total = r.rows.reduce(
              (a, x) => ({ count: a.count + x.count, errors: a.errors + x.errors, totalNs: a.totalNs + x.totalNs }),
              { count: 0, errors: 0, totalNs: 0 },
            );
            if (opts.json) {
              writeJsonLine({ type: 'syscall_summary', durationS: r.durationS, reason: r.reason, rows: r.rows, total });
              return;
            }
            const rows = r.rows.map((x) => [
              total.totalNs ? ((100 * x.totalNs) / total.totalNs).toFixed(2) : '0.00',
              (x.totalNs / 1e9).toFixed(6),
              String(Math.round(x.avgNs / 1000)),
              formatNs(x.maxNs),
              String(x.count),
              x.errors ? String(x.errors) : '',
              x.syscall,
            ]);
            rows.push([
              '100.00',
              (total.totalNs / 1e9).toFixed(6),
              total.count ? String(Math.round(total.totalNs / total.count / 1000)) : '0',
              '',
              String(total.count),
              total.errors ? String(total.errors) : '',
              paint('bold', 'total'),
            ]);
            process.stdout.write(
              `${formatTable(
                [
                  { header: '% time', align: 'right' },
                  { header: 'seconds', align: 'right' },
                  { header: 'usecs/call', align: 'right' },
                  { header: 'max', align: 'right' },
                  { header: 'calls', align: 'right' },
                  { header: 'errors', align: 'right' },
                  { header: 'syscall' },
                ],
                rows,
                paint,
              )}\n`,
            );
            process.stderr.write(
              `\n${paint('bold', 'trace syscalls --summary:')} ${formatCount(total.count)} syscalls in ${r.durationS.toFixed(1)} s. Detached.\n`,
            );
            return;
          }
          const cols = rowFormatter([
            { header: 'TIME', width: 12 },
            { header: 'COMM', width: 16 },
            { header: 'PID', align: 'right', width: 7 },
            { header: 'TID', align: 'right', width: 7 },
            { header: 'SYSCALL', width: 16 },
            { header: 'DURATION', align: 'right', width: 12 },
            { header: 'RET' },
          ]);
          const s = await traceSyscalls({
            filter,
            minDurationNs,
            buffer: opts.buffer,
            durationS: opts.duration,
            overload: opts.overload,
            onAttached: () => {
              readyLine(`${what} via a ${opts.buffer === 'ring' ? 'ring' : 'perf'} buffer`);
              if (!opts.json) process.stdout.write(`${paint('bold', cols.header)}\n`);
            },
            onEvent: (e) => {
              const error = e.ret < 0 && e.ret >= -4095 ? errnoName(-e.ret) : null;
              const time = wallTime(e.timestampNs);
              const record = {
                time: time.toISOString(),
                timestampNs: e.timestampNs,
                comm: e.comm,
                pid: e.pid,
                tid: e.tid,
                nr: e.nr,
                syscall: e.syscall,
                durationNs: e.durationNs,
                ret: e.ret,
                error,
                latencyNs: Math.round(e.latencyNs),
              };
              if (!userFilter.admits(record)) return;
              if (opts.json) {
                writeJsonLine({ type: 'syscall', ...record });
              } else {
                const ret = error ? paint('red', `${e.ret} ${error}`) : String(e.ret);
                process.stdout.write(
                  `${cols.row([
                    clockTime(time),
                    e.comm,
                    String(e.pid),
                    String(e.tid),
                    e.syscall,
                    `${(e.durationNs / 1000).toFixed(1)}us`,
                    ret,
                  ])}\n`,
                );
              }
            },
          });
          printSummary(
            'trace syscalls',
            s,
            opts.json,
            { buffer: s.buffer, ...overloadFields(opts.overload, s), ...userFilter.summary() },
            paintFor(opts.json ? process.stdout : process.stderr),
          );
        }),
    );

  trace
    .command('open')
    .description(
      'trace openat filenames as variable-length ring records, each reserved at its exact size (Chapter 28, exercise 4)',
    )
    .addOption(pidOption())
    .addOption(commOption())
    .addOption(filterOption())
    .addOption(
      overloadOption('opens that may write (O_WRONLY, O_RDWR, O_CREAT, O_TRUNC) are high priority and always sent'),
    )
    .addOption(durationOption())
    .addOption(jsonOption())
    .addHelpText(
      'after',
      `
Columns: TIME PID COMM FLAGS FILENAME. Filenames longer than 255 bytes are truncated. Each record is
40 bytes of header plus the filename and its NUL (recordBytes in JSON). The tracer's own process is
always excluded.

Examples:
  tsbpf trace open --comm bash
  tsbpf trace open --pid 1234 --json --duration 5`,
    )
    .action(
      (opts: {
        pid?: number;
        comm?: string;
        filter?: string;
        overload: OverloadMode;
        duration?: number;
        json?: boolean;
      }) =>
        runAction('tsbpf trace open', 'tracing', async () => {
          const paint = paintFor(process.stdout);
          const userFilter = new UserFilter(opts.filter, 'open');
          const cols = rowFormatter([
            { header: 'TIME', width: 12 },
            { header: 'PID', align: 'right', width: 7 },
            { header: 'COMM', width: 16 },
            { header: 'FLAGS', width: 20 },
            { header: 'FILENAME' },
          ]);
          const s = await traceOpen({
            filter: filterFrom(opts),
            durationS: opts.duration,
            overload: opts.overload,
            onAttached: () => {
              readyLine('openat (syscalls:sys_enter_openat)');
              if (!opts.json) process.stdout.write(`${paint('bold', cols.header)}\n`);
            },
            onEvent: (e) => {
              const time = wallTime(e.timestampNs);
              const record = {
                time: time.toISOString(),
                timestampNs: e.timestampNs,
                pid: e.pid,
                tid: e.tid,
                comm: e.comm,
                flags: e.flags,
                flagsText: openFlagsText(e.flags),
                filename: e.filename,
                recordBytes: e.recordBytes,
                latencyNs: Math.round(e.latencyNs),
              };
              if (!userFilter.admits(record)) return;
              if (opts.json) writeJsonLine({ type: 'open', ...record });
              else
                process.stdout.write(
                  `${cols.row([clockTime(time), String(e.pid), e.comm, record.flagsText, e.filename])}\n`,
                );
            },
          });
          printSummary(
            'trace open',
            s,
            opts.json,
            { ...overloadFields(opts.overload, s), ...userFilter.summary() },
            paintFor(opts.json ? process.stdout : process.stderr),
          );
        }),
    );
}
