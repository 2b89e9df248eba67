/** Small assembled programs shared by the attach tests: counters with filters. */
import { asm, type AsmInput, R0, R1, R2, R3, R6, R7, R10 } from '../../src/index.js';
import type { BpfMap } from '../../src/index.js';

/** `counts[key]++` for the u32 key in R7 (array map of u64); falls through to `out`. */
export function incrementR7(map: BpfMap): AsmInput {
  return [
    asm.stxw(R10, -4, R7),
    asm.ldMapFd(R1, map),
    asm.mov64(R2, R10),
    asm.add64(R2, -4),
    asm.call('map_lookup_elem'),
    asm.jeq(R0, 0, 'out'),
    asm.mov64(R1, 1),
    asm.atomicAdd64(R0, 0, R1),
  ];
}

/** Jumps to `out` unless the current thread-group id (pid) is `pid`. */
export function onlyPid(pid: number): AsmInput {
  return [asm.call('get_current_pid_tgid'), asm.rsh64(R0, 32), asm.jne(R0, pid, 'out')];
}

/** Jumps to `out` unless the current thread id is `tid` (the main thread's tid is the pid). */
export function onlyTid(tid: number): AsmInput {
  return [asm.call('get_current_pid_tgid'), asm.lsh64(R0, 32), asm.rsh64(R0, 32), asm.jne(R0, tid, 'out')];
}

/** Jumps to `out` unless the current task's comm equals `comm` (at most 15 bytes). */
export function onlyComm(comm: string): AsmInput {
  const b = Buffer.alloc(16);
  b.write(comm.slice(0, 15));
  return [
    asm.mov64(R1, R10),
    asm.add64(R1, -24),
    asm.mov64(R2, 16),
    asm.call('get_current_comm'),
    asm.ldxdw(R1, R10, -24),
    asm.ldImm64(R2, b.readBigUInt64LE(0)),
    asm.jne(R1, R2, 'out'),
    asm.ldxdw(R1, R10, -16),
    asm.ldImm64(R2, b.readBigUInt64LE(8)),
    asm.jne(R1, R2, 'out'),
  ];
}

/** A whole program: r6 = ctx; filters; counts[key] += 1; return `ret`. `key` sets R7 (R6 holds ctx). */
export function counter(map: BpfMap, opts: { filter?: AsmInput; key?: AsmInput; ret?: number } = {}): AsmInput {
  return [
    asm.mov64(R6, R1),
    opts.filter ?? [],
    opts.key ?? asm.mov64(R7, 0),
    incrementR7(map),
    asm.label('out'),
    asm.mov64(R0, opts.ret ?? 0),
    asm.exit(),
  ];
}

/** R7 = u64 at ctx+off, jumping to `out` when it is >= limit. */
export function keyFromCtx(off: number, limit: number): AsmInput {
  return [asm.ldxdw(R7, R6, off), asm.jge(R7, limit, 'out')];
}

export { R3 };
