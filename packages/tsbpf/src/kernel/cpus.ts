/** CPU sets from sysfs: per-CPU map values are sized by possible CPUs, perf buffers by online ones. */
import { readFileSync } from 'node:fs';

/** Parses a kernel CPU list such as `0-3,5,7-8`. */
export function parseCpuList(s: string): number[] {
  const out: number[] = [];
  for (const part of s.trim().split(',')) {
    if (!part) continue;
    const [a, b] = part.split('-').map(Number);
    for (let c = a!; c <= (b ?? a!); c++) out.push(c);
  }
  return out;
}

let possible: number | undefined;
/** Number of possible CPUs (the per-CPU value count), as libbpf_num_possible_cpus. */
export function possibleCpus(): number {
  possible ??= parseCpuList(readFileSync('/sys/devices/system/cpu/possible', 'utf8')).length;
  return possible;
}

/** The online CPU ids. */
export function onlineCpus(): number[] {
  return parseCpuList(readFileSync('/sys/devices/system/cpu/online', 'utf8'));
}
