/**
 * uprobes/uretprobes through the `uprobe` PMU: perf_event_open with the PMU's dynamic type,
 * config1 = the binary's path, config2 = the function's file offset (from the ELF symbol table),
 * the retprobe bit from the PMU's format; then a perf_event link. `kprobe`-type programs run here.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { Elf, ElfError, findFunctionSymbol } from '../pure/elf.js';
import { NotSupportedError } from '../pure/errors.js';
import { AttachError, Link, requireProgramType } from './link.js';
import { native } from './native.js';
import { attachToPerfEvent, perfEventOpen } from './perf-event.js';
import type { Program } from './program.js';
import { argError, cString } from './syscall.js';

/** Where attachUprobe attaches. */
export interface UprobeOptions {
  /** Path of the executable or shared library (a bare library name like `libc.so.6` is searched in the usual lib dirs). */
  binary: string;
  /** Function symbol to probe (from .symtab or .dynsym). */
  symbol?: string;
  /** File offset to probe; with `symbol`, an offset added to the symbol's. */
  offset?: number;
  /** Only this process (default: every process running the binary). */
  pid?: number;
  /** Fire on return (uretprobe) instead of entry. */
  retprobe?: boolean;
  /** bpf_get_attach_cookie value. */
  cookie?: bigint;
}

/** A PMU's dynamic type and the bit number of a format field (e.g. uprobe's `retprobe` = config:0). */
export function dynamicPmu(pmu: string): { type: number; bit(field: string): number } | undefined {
  const dir = `/sys/bus/event_source/devices/${pmu}`;
  if (!existsSync(`${dir}/type`)) return undefined;
  return {
    type: Number(readFileSync(`${dir}/type`, 'utf8').trim()),
    bit(field: string): number {
      const f = readFileSync(`${dir}/format/${field}`, 'utf8').trim();
      const m = /^config:(\d+)$/.exec(f);
      if (!m) throw new Error(`tsbpf: unexpected ${pmu} PMU format for ${field}: ${f}`);
      return Number(m[1]);
    },
  };
}

const LIB_DIRS = [
  '/lib/x86_64-linux-gnu',
  '/usr/lib/x86_64-linux-gnu',
  '/lib/aarch64-linux-gnu',
  '/usr/lib/aarch64-linux-gnu',
  '/lib64',
  '/usr/lib64',
  '/lib',
  '/usr/lib',
  '/usr/local/lib',
];

/** Resolves a binary path; bare names (`libc.so.6`) are searched in the usual library directories. */
export function resolveBinary(binary: string): string {
  if (typeof binary !== 'string' || binary === '') throw argError('uprobe binary must be a non-empty path');
  if (binary.includes('/') || isAbsolute(binary)) {
    const p = resolve(binary);
    if (!existsSync(p)) throw new AttachError('ENOENT', `uprobe ${binary}`, `no such file ${p}`);
    return p;
  }
  for (const d of LIB_DIRS) if (existsSync(`${d}/${binary}`)) return `${d}/${binary}`;
  for (const d of (process.env.PATH ?? '').split(':')) if (d && existsSync(`${d}/${binary}`)) return `${d}/${binary}`;
  throw new AttachError('ENOENT', `uprobe ${binary}`, `no file named ${binary} in ${LIB_DIRS.join(', ')} or PATH`);
}

/** File offset of `symbol` in `binary` (what the uprobe PMU's config2 takes). */
export function uprobeOffset(binary: string, symbol: string): number {
  const path = resolveBinary(binary);
  let elf: Elf;
  try {
    elf = Elf.parse(readFileSync(path));
  } catch (e) {
    throw new AttachError('ENOENT', `uprobe ${path}:${symbol}`, `not a readable ELF file (${(e as Error).message})`);
  }
  try {
    return findFunctionSymbol(elf, symbol).fileOffset;
  } catch (e) {
    if (e instanceof ElfError && e.code === 'not-found')
      throw new AttachError('ENOENT', `uprobe ${path}:${symbol}`, `no function symbol "${symbol}" in ${path}`);
    throw e;
  }
}

/** Attaches a `kprobe`-type program as a uprobe (or uretprobe) on binary + symbol/offset. */
export function attachUprobe(program: Program, opts: UprobeOptions): Link {
  if (!opts || typeof opts !== 'object') throw argError('attachUprobe needs { binary, symbol | offset }');
  const kind = opts.retprobe ? 'uretprobe' : 'uprobe';
  requireProgramType(program, ['kprobe'], kind);
  if (opts.symbol === undefined && opts.offset === undefined) throw argError(`${kind} needs a symbol or an offset`);
  if (opts.offset !== undefined && (!Number.isSafeInteger(opts.offset) || opts.offset < 0))
    throw argError(`${kind} offset must be a non-negative integer, got ${opts.offset}`);
  if (opts.pid !== undefined && (!Number.isInteger(opts.pid) || opts.pid <= 0))
    throw argError(`${kind} pid must be a positive integer, got ${opts.pid}`);
  const path = resolveBinary(opts.binary);
  if (!statSync(path).isFile()) throw argError(`${kind} binary ${path} is not a regular file`);
  const offset = (opts.symbol !== undefined ? uprobeOffset(path, opts.symbol) : 0) + (opts.offset ?? 0);
  const what = `${kind} ${path}:${opts.symbol ?? ''}${opts.symbol && opts.offset ? '+' : ''}${opts.offset ? `0x${opts.offset.toString(16)}` : opts.symbol ? '' : '0x0'}${opts.pid ? ` (pid ${opts.pid})` : ''}`;
  const pmu = dynamicPmu('uprobe');
  if (!pmu)
    throw new NotSupportedError(
      'uprobes',
      `cannot attach ${what}: the kernel has no uprobe PMU (/sys/bus/event_source/devices/uprobe): CONFIG_UPROBE_EVENTS is off`,
    );
  const config = opts.retprobe ? 1n << BigInt(pmu.bit('retprobe')) : 0n;
  const pathBuf = cString(path);
  const pid = opts.pid ?? -1;
  const perf = perfEventOpen(
    { type: pmu.type, config, sample: 1, wakeupEvents: 1, config1: native.addressOf(pathBuf), config2: offset },
    pid,
    pid === -1 ? 0 : -1,
    what,
    undefined,
    pathBuf,
  );
  return Link.create([attachToPerfEvent(program, perf, what, opts.cookie)], what);
}
