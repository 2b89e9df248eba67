/**
 * Tracepoints (`category:name`): the event id from tracefs, a perf event of PERF_TYPE_TRACEPOINT
 * (pid -1, cpu 0: a tracepoint program fires on every CPU, as libbpf does it), then the program
 * on it through a perf_event link.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { ensureTracefs } from './fs-mounts.js';
import { AttachError, Link, requireProgramType } from './link.js';
import { attachToPerfEvent, PERF_TYPE, perfEventOpen } from './perf-event.js';
import type { Program } from './program.js';
import { argError } from './syscall.js';

const NAME = /^[A-Za-z0-9_.-]+$/;

/** The tracefs event id of `category:name`; AttachError (ENOENT) when the kernel has no such tracepoint. */
export function tracepointId(category: string, name: string): number {
  if (typeof category !== 'string' || !NAME.test(category))
    throw argError(`tracepoint category must be a plain name like "sched", got ${JSON.stringify(category)}`);
  if (typeof name !== 'string' || !NAME.test(name))
    throw argError(`tracepoint name must be a plain name like "sched_process_exec", got ${JSON.stringify(name)}`);
  const root = ensureTracefs();
  const file = `${root}/events/${category}/${name}/id`;
  if (!existsSync(file)) {
    const target = `tracepoint ${category}:${name}`;
    if (!existsSync(`${root}/events/${category}`))
      throw new AttachError(
        'ENOENT',
        target,
        `the kernel has no tracepoint category "${category}" (see ${root}/available_events)`,
      );
    const near = readdirSync(`${root}/events/${category}`)
      .filter((n) => n !== 'enable' && n !== 'filter' && (n.includes(name) || name.includes(n)))
      .slice(0, 5);
    throw new AttachError(
      'ENOENT',
      target,
      `the kernel has no tracepoint "${name}" in category "${category}"${near.length ? ` (did you mean ${near.join(', ')}?)` : ''}`,
    );
  }
  return Number(readFileSync(file, 'utf8').trim());
}

/** Attaches a `tracepoint` program to `category:name` (e.g. `sched`, `sched_process_exec`). */
export function attachTracepoint(
  program: Program,
  category: string,
  name: string,
  opts: { cookie?: bigint } = {},
): Link {
  requireProgramType(program, ['tracepoint'], `tracepoint ${category}:${name}`);
  const id = tracepointId(category, name);
  const what = `tracepoint ${category}:${name}`;
  const perf = perfEventOpen({ type: PERF_TYPE.tracepoint, config: id, sample: 1, wakeupEvents: 1 }, -1, 0, what);
  return Link.create([attachToPerfEvent(program, perf, what, opts.cookie)], what);
}

/** Splits `category:name` (or `category/name`). */
export function splitTracepoint(spec: string): [string, string] {
  const m = /^([^:/]+)[:/]([^:/]+)$/.exec(spec);
  if (!m) throw argError(`tracepoint must be "category:name", got ${JSON.stringify(spec)}`);
  return [m[1]!, m[2]!];
}
