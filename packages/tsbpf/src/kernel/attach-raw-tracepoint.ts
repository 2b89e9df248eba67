/**
 * Raw tracepoints: BPF_RAW_TRACEPOINT_OPEN by name for `raw_tracepoint` programs (the args are the
 * tracepoint's raw arguments, no tracefs formatting). BTF-typed `tp_btf` programs are `tracing`
 * programs chosen at load (see attach-tracing.ts) and attach through attachTracing().
 */
import { BPF_CMD } from '../pure/uapi.js';
import { BpfError } from './errors.js';
import { AttachError, Link, requireProgramType } from './link.js';
import type { Program } from './program.js';
import { Attr, argError, bpfRaw, cString, OwnedFd } from './syscall.js';
import { ensureTracefs } from './fs-mounts.js';
import { existsSync, readdirSync } from 'node:fs';

const ENOENT = 2;

/** Attaches a `raw_tracepoint` (or `raw_tracepoint_writable`) program to the tracepoint `name` (e.g. `sys_enter`, `sched_switch`). */
export function attachRawTracepoint(program: Program, name: string, opts: { cookie?: bigint } = {}): Link {
  requireProgramType(program, ['raw_tracepoint', 'raw_tracepoint_writable'], `raw tracepoint ${name}`);
  if (typeof name !== 'string' || !/^[A-Za-z0-9_]+$/.test(name))
    throw argError(`raw tracepoint name must be a plain name like "sys_enter", got ${JSON.stringify(name)}`);
  const what = `raw tracepoint ${name}`;
  const n = cString(name);
  const a = new Attr(24)
    .ptr(0, n)
    .u32(8, program.fd)
    .u64n(16, opts.cookie ?? 0n);
  const r = bpfRaw(BPF_CMD.raw_tracepoint_open, a.bytes);
  if (r === -ENOENT) throw new AttachError('ENOENT', what, `the kernel has no tracepoint "${name}"${suggest(name)}`);
  if (r < 0) throw new BpfError(-r, { syscall: 'bpf', command: 'BPF_RAW_TRACEPOINT_OPEN', object: what });
  return Link.create([{ link: new OwnedFd(r, what) }], what);
}

function suggest(name: string): string {
  try {
    const root = ensureTracefs();
    const hits: string[] = [];
    for (const cat of readdirSync(`${root}/events`)) {
      if (existsSync(`${root}/events/${cat}/${name}`))
        return ` (tracefs has ${cat}:${name}, but raw tracepoints need the kernel's own name)`;
      for (const ev of hits.length < 5 ? safeList(`${root}/events/${cat}`) : []) {
        if (hits.length === 5) break;
        if (ev.includes(name)) hits.push(ev);
      }
    }
    return hits.length ? ` (similar: ${hits.join(', ')})` : '';
  } catch {
    return '';
  }
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
