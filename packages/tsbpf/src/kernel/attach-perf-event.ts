/**
 * perf_event programs on software/hardware events, one perf event per CPU (e.g. cpu-clock
 * sampling at 99 Hz on every online CPU, as profilers do). The result is one Link over all CPUs.
 */
import { onlineCpus } from './cpus.js';
import { Link, type LinkPart, requireProgramType } from './link.js';
import { attachToPerfEvent, PERF_ATTR_FLAG, PERF_TYPE, perfEventOpen } from './perf-event.js';
import type { Program } from './program.js';
import { argError } from './syscall.js';

/** PERF_TYPE_SOFTWARE configs. */
export const SOFTWARE_EVENT = {
  'cpu-clock': 0,
  'task-clock': 1,
  'page-faults': 2,
  'context-switches': 3,
  'cpu-migrations': 4,
  'minor-faults': 5,
  'major-faults': 6,
  'alignment-faults': 7,
  'emulation-faults': 8,
  dummy: 9,
  'bpf-output': 10,
  'cgroup-switches': 11,
} as const;
/** PERF_TYPE_HARDWARE configs. */
export const HARDWARE_EVENT = {
  'cpu-cycles': 0,
  instructions: 1,
  'cache-references': 2,
  'cache-misses': 3,
  'branch-instructions': 4,
  'branch-misses': 5,
  'bus-cycles': 6,
  'stalled-cycles-frontend': 7,
  'stalled-cycles-backend': 8,
  'ref-cycles': 9,
} as const;
export type SoftwareEventName = keyof typeof SOFTWARE_EVENT;
export type HardwareEventName = keyof typeof HARDWARE_EVENT;

/** What attachPerfEvent samples. */
export interface PerfEventOptions {
  /** `software` (default), `hardware`, or a raw perf type number. */
  type?: 'software' | 'hardware' | number;
  /** Event name (`cpu-clock`, `cpu-cycles`, ...) or config number. Default `cpu-clock`. */
  event?: SoftwareEventName | HardwareEventName | number | bigint;
  /** Samples per second per CPU (default 99 when no period is given). */
  frequency?: number;
  /** Run the program every `period` events instead of at a frequency. */
  period?: number;
  /** CPUs to sample (default: every online CPU). */
  cpus?: number[];
  /** Only this process (default: everything running on each CPU). */
  pid?: number;
}

/** Attaches a `perf_event` program to a sampling event on each CPU. */
export function attachPerfEvent(program: Program, opts: PerfEventOptions = {}): Link {
  requireProgramType(program, ['perf_event'], 'a perf event');
  const typeName = opts.type ?? 'software';
  let type: number;
  let config: bigint;
  const ev = opts.event ?? 'cpu-clock';
  if (typeName === 'software' || typeName === 'hardware') {
    type = PERF_TYPE[typeName];
    const table: Record<string, number> = typeName === 'software' ? SOFTWARE_EVENT : HARDWARE_EVENT;
    if (typeof ev === 'string') {
      if (table[ev] === undefined)
        throw argError(`unknown ${typeName} event "${ev}" (known: ${Object.keys(table).join(', ')})`);
      config = BigInt(table[ev]!);
    } else config = BigInt(ev);
  } else if (Number.isInteger(typeName) && typeName >= 0) {
    type = typeName;
    if (typeof ev === 'string') throw argError('a raw perf type needs a numeric event config');
    config = BigInt(ev);
  } else throw argError(`perf event type must be 'software', 'hardware' or a number, got ${String(typeName)}`);
  if (opts.frequency !== undefined && opts.period !== undefined) throw argError('give frequency or period, not both');
  const freq = opts.period === undefined ? (opts.frequency ?? 99) : undefined;
  const sample = freq ?? opts.period!;
  if (!Number.isSafeInteger(sample) || sample <= 0)
    throw argError(`${freq !== undefined ? 'frequency' : 'period'} must be a positive integer, got ${sample}`);
  const cpus = opts.cpus ?? onlineCpus();
  if (!Array.isArray(cpus) || cpus.length === 0 || !cpus.every((c) => Number.isInteger(c) && c >= 0))
    throw argError('cpus must be a non-empty array of CPU numbers');
  const pid = opts.pid ?? -1;
  const evName = typeof ev === 'string' ? ev : `config ${ev}`;
  const desc = `perf event ${typeof typeName === 'string' ? typeName : `type ${typeName}`} ${evName} @ ${freq !== undefined ? `${freq} Hz` : `every ${sample}`}`;
  const parts: LinkPart[] = [];
  try {
    for (const cpu of cpus) {
      const what = `${desc} on CPU ${cpu}`;
      const perf = perfEventOpen(
        { type, config, sample, flags: freq !== undefined ? PERF_ATTR_FLAG.freq : 0 },
        pid,
        cpu,
        what,
      );
      parts.push(attachToPerfEvent(program, perf, what));
    }
  } catch (e) {
    for (const p of parts) {
      p.link?.close();
      p.perf?.close();
    }
    throw e;
  }
  return Link.create(parts, `${desc} on ${cpus.length} CPU${cpus.length === 1 ? '' : 's'}`);
}
