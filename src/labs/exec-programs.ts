/**
 * Lab 12.2's three exec collectors for `tsbpf trace exec`, in the seed's style (one `asm.*` per seed
 * line), plus the drop counter the seed leaves to the reader ("handle ring buffer overflow").
 * Attach to sched:sched_process_exec. Event: `{pid u32, uid u32, timestamp u64, comm char[16]}`.
 */
import { asm, R0, R1, R2, R3, R4, R9, R10, type AsmInput, type MapRef } from '../pure/asm.js';
import { t } from '../pure/layout.js';
import { RINGBUF_FLAG } from '../pure/uapi.js';
import { asmCountDrop, type DropCounter } from '../kernel/drop-counter.js';

/** `(defrecord ProcessEvent [pid :u32 uid :u32 timestamp :u64 comm [16 :u8]])`. */
export const ProcessEvent = t.struct({ pid: t.u32, uid: t.u32, timestamp: t.u64num, comm: t.cstring(16) });
/** 32 bytes. */
export const EVENT_SIZE = ProcessEvent.size;

/** How events cross to user space. */
export type ExecMode = 'zerocopy' | 'copy' | 'filtered';
export const EXEC_MODES: readonly ExecMode[] = ['zerocopy', 'copy', 'filtered'];

const OFF = { pid: ProcessEvent.offsetOf('pid'), uid: ProcessEvent.offsetOf('uid'), ts: ProcessEvent.offsetOf('timestamp'), comm: ProcessEvent.offsetOf('comm') };

/** Fills the event at R9 (pid, uid, timestamp, comm) — the seed's "Fill event" block. */
function fillEventAtR9(): AsmInput[] {
  return [
    asm.call('get_current_pid_tgid'),
    asm.rsh(R0, 32),
    asm.storeMem('w', R9, OFF.pid, R0), //            Write PID directly
    asm.call('get_current_uid_gid'),
    asm.rsh(R0, 32),
    asm.storeMem('w', R9, OFF.uid, R0), //            Write UID directly (the seed's uid is the high half, as written)
    asm.call('ktime_get_ns'),
    asm.storeMem('dw', R9, OFF.ts, R0), //            Write timestamp directly
    asm.movReg(R1, R9),
    asm.add(R1, OFF.comm),
    asm.mov(R2, 16),
    asm.call('get_current_comm'),
  ];
}

/** Zero-copy: reserve in the ring, write the fields in place, submit. */
export function zeroCopyExec(ring: MapRef, drops: DropCounter | MapRef): AsmInput[] {
  return [
    asm.ldMapFd(R1, ring),
    asm.mov(R2, EVENT_SIZE),
    asm.mov(R3, 0),
    asm.call('ringbuf_reserve'), //                   Returns pointer
    asm.jmpImm('jeq', R0, 0, 'full'), //              Reservation failed: ring full
    asm.movReg(R9, R0), //                            Save event pointer
    fillEventAtR9(),
    asm.movReg(R1, R9),
    asm.mov(R2, 0),
    asm.call('ringbuf_submit'), //                    Just updates the pointer, no copy
    asm.jmp('exit'),
    asm.label('full'),
    asmCountDrop(drops),
    asm.label('exit'),
    asm.mov(R0, 0),
    asm.exit(),
  ];
}

/** Copy-based: build the event on the stack, `ringbuf_output` copies it into the ring. */
export function copyExec(ring: MapRef, drops: DropCounter | MapRef): AsmInput[] {
  const at = (off: number) => -EVENT_SIZE + off; // event at r10-32
  return [
    asm.call('get_current_pid_tgid'),
    asm.rsh(R0, 32),
    asm.storeMem('w', R10, at(OFF.pid), R0), //      PID
    asm.call('get_current_uid_gid'),
    asm.rsh(R0, 32),
    asm.storeMem('w', R10, at(OFF.uid), R0), //      UID
    asm.call('ktime_get_ns'),
    asm.storeMem('dw', R10, at(OFF.ts), R0), //      Timestamp
    asm.movReg(R1, R10),
    asm.add(R1, at(OFF.comm)),
    asm.mov(R2, 16),
    asm.call('get_current_comm'),
    // **INEFFICIENT**: ringbuf_output copies data
    asm.ldMapFd(R1, ring),
    asm.movReg(R2, R10),
    asm.add(R2, -EVENT_SIZE), //                      Data pointer
    asm.mov(R3, EVENT_SIZE),
    asm.mov(R4, 0),
    asm.call('ringbuf_output'), //                    **COPIES DATA**
    asm.jmpImm('jsge', R0, 0, 'exit'),
    asmCountDrop(drops, { stackOffset: -EVENT_SIZE - 8 }),
    asm.label('exit'),
    asm.mov(R0, 0),
    asm.exit(),
  ];
}

/** Filtered zero-copy: reserve and fill, then discard (without a wakeup) when pid < `minPid`. */
export function filteredExec(ring: MapRef, drops: DropCounter | MapRef, minPid: number): AsmInput[] {
  if (!Number.isInteger(minPid) || minPid < 0 || minPid > 0x7fffffff) throw new RangeError(`minPid must be an integer in 0..2^31-1, got ${minPid}`);
  return [
    asm.ldMapFd(R1, ring),
    asm.mov(R2, EVENT_SIZE),
    asm.mov(R3, 0),
    asm.call('ringbuf_reserve'),
    asm.jmpImm('jeq', R0, 0, 'full'),
    asm.movReg(R9, R0),
    fillEventAtR9(),
    // **OPTIMIZATION**: Discard if not interesting
    asm.loadMem('w', R1, R9, OFF.pid), //             Check PID
    asm.jmpImm('jlt', R1, minPid, 'discard'), //      Ignore low PIDs
    asm.movReg(R1, R9),
    asm.mov(R2, 0),
    asm.call('ringbuf_submit'),
    asm.jmp('exit'),
    // Discard uninteresting events (no wakeup)
    asm.label('discard'),
    asm.movReg(R1, R9),
    asm.mov(R2, RINGBUF_FLAG.no_wakeup),
    asm.call('ringbuf_discard'),
    asm.jmp('exit'),
    asm.label('full'),
    asmCountDrop(drops),
    asm.label('exit'),
    asm.mov(R0, 0),
    asm.exit(),
  ];
}

/** The program for `mode`. */
export function execProgram(mode: ExecMode, ring: MapRef, drops: DropCounter | MapRef, minPid = 1000): AsmInput[] {
  switch (mode) {
    case 'zerocopy': return zeroCopyExec(ring, drops);
    case 'copy': return copyExec(ring, drops);
    case 'filtered': return filteredExec(ring, drops, minPid);
  }
}
