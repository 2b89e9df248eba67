/**
 * Chapter 28's syscall tracer for `tsbpf trace syscalls`, written with the tsbpf assembler:
 * raw_syscalls:sys_enter stores a start time keyed by pid_tgid (only for tasks that pass the
 * filters); raw_syscalls:sys_exit looks it up, deletes it, applies the minimum duration, and either
 * emits an event (ring buffer or perf buffer) or, in summary mode, aggregates per syscall in a
 * per-CPU array (strace -c without any event crossing).
 */
import { asm, R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10, type AsmInput, type MapRef } from 'tsbpf';
import { t } from 'tsbpf';
import { F_CURRENT_CPU } from 'tsbpf';
import { asmCountDrop, type DropCounter } from 'tsbpf';
import { taskFilterItems, type TaskFilter } from './task-filter.js';
import { gateItems, highWhenNegative, type Gate } from './overload-policy.js';

/**
 * The event, as the chapter's C struct:
 * `{u64 ts; u64 duration_ns; u32 pid; u32 tid; int syscall_nr; long ret; char comm[16];}` (56 bytes).
 */
export const SyscallEvent = t.struct({
  ts: t.u64num,
  durationNs: t.u64num,
  pid: t.u32,
  tid: t.u32,
  syscallNr: t.i32,
  ret: t.i64,
  comm: t.cstring(16),
});
export const SYSCALL_EVENT_SIZE = SyscallEvent.size;
const E = {
  ts: SyscallEvent.offsetOf('ts'),
  dur: SyscallEvent.offsetOf('durationNs'),
  pid: SyscallEvent.offsetOf('pid'),
  tid: SyscallEvent.offsetOf('tid'),
  nr: SyscallEvent.offsetOf('syscallNr'),
  ret: SyscallEvent.offsetOf('ret'),
  comm: SyscallEvent.offsetOf('comm'),
};

/** Per-syscall aggregate for summary mode, one per CPU: `{count, total_ns, max_ns, errors}`. */
export const SyscallStats = t.struct({ count: t.u64num, totalNs: t.u64num, maxNs: t.u64num, errors: t.u64num });
/** Syscall numbers the summary array covers (x86_64 has < 512). */
export const SUMMARY_SLOTS = 512;

/** raw_syscalls tracepoint context offsets (see events/raw_syscalls/sys_exit/format). */
const TP = { id: 8, ret: 16 } as const;

/** Max tasks in a syscall at once that the start map tracks. */
export const START_ENTRIES = 10240;

/** sys_enter: `start[pid_tgid] = ktime_get_ns()` for tasks that pass `filter`. */
export function syscallEnter(start: MapRef, filter: TaskFilter): AsmInput[] {
  return [
    taskFilterItems(filter, 'skip', -32),
    asm.call('get_current_pid_tgid'),
    asm.storeMem('dw', R10, -8, R0), //               key: pid_tgid
    asm.call('ktime_get_ns'),
    asm.storeMem('dw', R10, -16, R0), //              value: ts
    asm.ldMapFd(R1, start),
    asm.movReg(R2, R10),
    asm.add(R2, -8),
    asm.movReg(R3, R10),
    asm.add(R3, -16),
    asm.mov(R4, 0), //                                BPF_ANY
    asm.call('map_update_elem'),
    asm.label('skip'),
    asm.mov(R0, 0),
    asm.exit(),
  ];
}

/** Where sys_exit sends what it measured. */
export type ExitSink =
  | { kind: 'ring'; ring: MapRef; drops: DropCounter | MapRef; gate?: Gate }
  | { kind: 'perf'; perf: MapRef; drops: DropCounter | MapRef }
  | { kind: 'summary'; stats: MapRef };

/**
 * sys_exit: finds and deletes the start time, computes the duration, skips it when shorter than
 * `minDurationNs`, then hands it to `sink`. Registers: R6 ctx, R7 pid_tgid, R8 start, R9 now.
 */
export function syscallExit(start: MapRef, sink: ExitSink, minDurationNs = 0): AsmInput[] {
  if (!Number.isSafeInteger(minDurationNs) || minDurationNs < 0)
    throw new RangeError(`minDurationNs must be a non-negative integer, got ${minDurationNs}`);
  const head: AsmInput[] = [
    asm.movReg(R6, R1), //                            ctx
    asm.call('get_current_pid_tgid'),
    asm.movReg(R7, R0),
    asm.storeMem('dw', R10, -8, R0),
    asm.ldMapFd(R1, start),
    asm.movReg(R2, R10),
    asm.add(R2, -8),
    asm.call('map_lookup_elem'), //                   u64 *tsp = start.lookup(&id)
    asm.jmpImm('jeq', R0, 0, 'out'), //               if (!tsp) return 0
    asm.loadMem('dw', R8, R0, 0),
    asm.ldMapFd(R1, start),
    asm.movReg(R2, R10),
    asm.add(R2, -8),
    asm.call('map_delete_elem'), //                   start.delete(&id)
    asm.call('ktime_get_ns'),
    asm.movReg(R9, R0),
    asm.movReg(R2, R9),
    asm.sub(R2, R8), //                               duration
    asm.storeMem('dw', R10, -16, R2),
  ];
  if (minDurationNs > 0) head.push(asm.ldImm64(R3, minDurationNs), asm.jmpReg('jlt', R2, R3, 'out'));
  const tail: AsmInput[] = [asm.label('out'), asm.mov(R0, 0), asm.exit()];

  if (sink.kind === 'ring') {
    return [
      head,
      // --overload sample: failed syscalls are high priority (always sent), the rest thinned under load.
      sink.gate
        ? [asm.loadMem('dw', R1, R6, TP.ret), highWhenNegative('ovl'), gateItems(sink.gate, sink.ring, R2, 'out', -32)]
        : [],
      asm.ldMapFd(R1, sink.ring),
      asm.mov(R2, SYSCALL_EVENT_SIZE),
      asm.mov(R3, 0),
      asm.call('ringbuf_reserve'),
      asm.jmpImm('jne', R0, 0, 'reserved'),
      asmCountDrop(sink.drops, { stackOffset: -20 }),
      asm.jmp('out'),
      asm.label('reserved'),
      asm.movReg(R8, R0), //                          event pointer (start time no longer needed)
      fillEvent(R8, 0),
      asm.movReg(R1, R8),
      asm.mov(R2, 0),
      asm.call('ringbuf_submit'),
      tail,
    ];
  }
  if (sink.kind === 'perf') {
    const at = -24 - SYSCALL_EVENT_SIZE; // event on the stack below the key and duration
    return [
      head,
      asm.movReg(R8, R10),
      fillEvent(R8, at),
      asm.movReg(R1, R6),
      asm.ldMapFd(R2, sink.perf),
      asm.ldImm64(R3, F_CURRENT_CPU), //              BPF_F_CURRENT_CPU (zero-extended, not -1)
      asm.movReg(R4, R10),
      asm.add(R4, at),
      asm.mov(R5, SYSCALL_EVENT_SIZE),
      asm.call('perf_event_output'),
      asm.jmpImm('jsge', R0, 0, 'out'),
      asmCountDrop(sink.drops, { stackOffset: -20 }),
      tail,
    ];
  }
  return [
    head,
    asm.loadMem('dw', R1, R6, TP.id),
    asm.jmpImm('jgt', R1, SUMMARY_SLOTS - 1, 'out'), // also rejects id -1 (unsigned)
    asm.storeMem('w', R10, -20, R1),
    asm.ldMapFd(R1, sink.stats),
    asm.movReg(R2, R10),
    asm.add(R2, -20),
    asm.call('map_lookup_elem'),
    asm.jmpImm('jeq', R0, 0, 'out'),
    asm.loadMem('dw', R2, R10, -16), //               duration
    asm.loadMem('dw', R1, R0, SyscallStats.offsetOf('count')),
    asm.add(R1, 1),
    asm.storeMem('dw', R0, SyscallStats.offsetOf('count'), R1),
    asm.loadMem('dw', R1, R0, SyscallStats.offsetOf('totalNs')),
    asm.add(R1, R2),
    asm.storeMem('dw', R0, SyscallStats.offsetOf('totalNs'), R1),
    asm.loadMem('dw', R1, R0, SyscallStats.offsetOf('maxNs')),
    asm.jmpReg('jge', R1, R2, 'max-kept'),
    asm.storeMem('dw', R0, SyscallStats.offsetOf('maxNs'), R2),
    asm.label('max-kept'),
    asm.loadMem('dw', R1, R6, TP.ret),
    asm.jmpImm('jsge', R1, 0, 'out'),
    asm.loadMem('dw', R1, R0, SyscallStats.offsetOf('errors')),
    asm.add(R1, 1),
    asm.storeMem('dw', R0, SyscallStats.offsetOf('errors'), R1),
    tail,
  ];
}

/** Writes the event at `base + off` (R8 = event pointer or R10): ts, duration, pid, tid, nr, ret, comm. */
function fillEvent(base: typeof R8, off: number): AsmInput[] {
  return [
    asm.storeMem('dw', base, off + E.ts, R9), //        e->ts = now
    asm.loadMem('dw', R1, R10, -16),
    asm.storeMem('dw', base, off + E.dur, R1), //       e->duration_ns
    asm.movReg(R1, R7),
    asm.rsh(R1, 32),
    asm.storeMem('w', base, off + E.pid, R1), //        e->pid = id >> 32
    asm.storeMem('w', base, off + E.tid, R7), //        e->tid = id
    asm.loadMem('dw', R1, R6, TP.id),
    asm.storeMem('w', base, off + E.nr, R1), //         e->syscall_nr = args->id
    asm.loadMem('dw', R1, R6, TP.ret),
    asm.storeMem('dw', base, off + E.ret, R1), //       e->ret = args->ret
    asm.movReg(R1, base),
    asm.add(R1, off + E.comm),
    asm.mov(R2, 16),
    asm.call('get_current_comm'),
  ];
}
