/**
 * Lab 12.2 (zero-copy event collection): the seed's three exec collectors, written with tsbpf's
 * assembler in the seed's style — each seed vector item `[(bpf/...)]` is one `asm.*` call and
 * `[:exit]` is `asm.label('exit')`. The single definition used by `tsbpf trace exec` and
 * `examples/lab12-2-zerocopy.ts`. Attach to sched:sched_process_exec (or load as raw_tracepoint to
 * test-run). Event: `{pid u32, uid u32, timestamp u64, comm char[16]}`.
 *
 * Given a drop counter, each collector also counts the events the ring had no room for (the seed
 * leaves "handle ring buffer overflow" to the reader); without one, the programs are the seed's.
 */
import { asm, R0, R1, R2, R3, R4, R9, R10, type AsmInput, type MapRef, type Reg } from 'tsbpf';
import { t } from 'tsbpf';
import { RINGBUF_FLAG } from 'tsbpf';
import { asmCountDrop, type DropCounter } from 'tsbpf';

/** `(defrecord ProcessEvent [pid :u32 uid :u32 timestamp :u64 comm [16 :u8]])`. */
export const ProcessEvent = t.struct({ pid: t.u32, uid: t.u32, timestamp: t.u64num, comm: t.cstring(16) });
/** `(def EVENT_SIZE 32)`. */
export const EVENT_SIZE = ProcessEvent.size;

/** How events cross to user space. */
export type ExecMode = 'zerocopy' | 'copy' | 'filtered';
export const EXEC_MODES: readonly ExecMode[] = ['zerocopy', 'copy', 'filtered'];

const OFF = {
  pid: ProcessEvent.offsetOf('pid'),
  uid: ProcessEvent.offsetOf('uid'),
  ts: ProcessEvent.offsetOf('timestamp'),
  comm: ProcessEvent.offsetOf('comm'),
};

/**
 * Fills the event at `base + at` (pid, uid, timestamp, comm): the copy-based program's stack event
 * and the batched program's "Fill event (same as before)". The zero-copy program writes the same
 * sequence out in full, as the seed does.
 */
function fillProcessEvent(base: Reg, at: number): AsmInput[] {
  return [
    asm.call('get_current_pid_tgid'),
    asm.rsh(R0, 32),
    asm.storeMem('w', base, at + OFF.pid, R0), //     PID

    asm.call('get_current_uid_gid'),
    asm.rsh(R0, 32), //                                (the seed's uid is the high half, as written)
    asm.storeMem('w', base, at + OFF.uid, R0), //     UID

    asm.call('ktime_get_ns'),
    asm.storeMem('dw', base, at + OFF.ts, R0), //     Timestamp

    asm.movReg(R1, base),
    asm.add(R1, at + OFF.comm),
    asm.mov(R2, 16),
    asm.call('get_current_comm'),
  ];
}

/** Where a failed reservation jumps: `full` when drops are counted, else the seed's `exit`. */
const onFull = (drops?: DropCounter | MapRef): string => (drops === undefined ? 'exit' : 'full');

/** The `full` path, placed just before `exit`: count the drop. Nothing without a counter. */
function countDropWhenFull(drops?: DropCounter | MapRef): AsmInput[] {
  return drops === undefined ? [] : [asm.jmp('exit'), asm.label('full'), asmCountDrop(drops)];
}

// ============================================================================
// Inefficient: Copy-Based Approach
// ============================================================================

/** `copy-based-program`: builds the event on the stack, then `ringbuf_output` copies it. */
export function copyBasedProgram(eventBufferCopy: MapRef, drops?: DropCounter | MapRef): AsmInput[] {
  return [
    // Build event on stack, at r10 - 32
    fillProcessEvent(R10, -EVENT_SIZE),

    // **INEFFICIENT**: ringbuf_output copies data
    asm.ldMapFd(R1, eventBufferCopy),
    asm.movReg(R2, R10),
    asm.add(R2, -EVENT_SIZE), //                       Data pointer
    asm.mov(R3, EVENT_SIZE),
    asm.mov(R4, 0),
    asm.call('ringbuf_output'), //                     **COPIES DATA**
    // ringbuf_output returns < 0 when the ring is full: count the drop.
    drops === undefined
      ? []
      : [asm.jmpImm('jsge', R0, 0, 'exit'), asmCountDrop(drops, { stackOffset: -EVENT_SIZE - 8 })],

    asm.label('exit'),
    asm.mov(R0, 0),
    asm.exit(),
  ];
}

// ============================================================================
// Efficient: Zero-Copy Approach
// ============================================================================

/** `zerocopy-program`: reserves the event in the ring and writes the fields in place. */
export function zeroCopyProgram(eventBufferZerocopy: MapRef, drops?: DropCounter | MapRef): AsmInput[] {
  return [
    // **ZERO-COPY**: Reserve space in ring buffer
    asm.ldMapFd(R1, eventBufferZerocopy),
    asm.mov(R2, EVENT_SIZE),
    asm.mov(R3, 0),
    asm.call('ringbuf_reserve'), //                    Returns pointer

    // Check if reservation succeeded
    asm.jmpImm('jeq', R0, 0, onFull(drops)),
    asm.movReg(R9, R0), //                             Save event pointer

    // **WRITE DIRECTLY TO RING BUFFER** (no copy!)
    asm.call('get_current_pid_tgid'),
    asm.rsh(R0, 32),
    asm.storeMem('w', R9, OFF.pid, R0), //             Write PID directly

    asm.call('get_current_uid_gid'),
    asm.rsh(R0, 32),
    asm.storeMem('w', R9, OFF.uid, R0), //             Write UID directly

    asm.call('ktime_get_ns'),
    asm.storeMem('dw', R9, OFF.ts, R0), //             Write timestamp directly

    // Write comm directly
    asm.movReg(R1, R9),
    asm.add(R1, OFF.comm),
    asm.mov(R2, 16),
    asm.call('get_current_comm'),

    // **SUBMIT** (just updates pointer, no copy)
    asm.movReg(R1, R9),
    asm.mov(R2, 0),
    asm.call('ringbuf_submit'),
    countDropWhenFull(drops),

    asm.label('exit'),
    asm.mov(R0, 0),
    asm.exit(),
  ];
}

// ============================================================================
// Advanced: Batched Submit
// ============================================================================

/**
 * `batched-zerocopy-program`: fills the event, then discards it without a wakeup when the PID is
 * below `minPid` (the seed's 1000) and submits it otherwise. The seed elides the fill ("same as
 * before"); it is done here so the PID check reads an initialised field.
 */
export function batchedZeroCopyProgram(
  eventBufferZerocopy: MapRef,
  minPid = 1000,
  drops?: DropCounter | MapRef,
): AsmInput[] {
  if (!Number.isInteger(minPid) || minPid < 0 || minPid > 0x7fffffff)
    throw new RangeError(`minPid must be an integer in 0..2^31-1, got ${minPid}`);
  return [
    // Reserve
    asm.ldMapFd(R1, eventBufferZerocopy),
    asm.mov(R2, EVENT_SIZE),
    asm.mov(R3, 0),
    asm.call('ringbuf_reserve'),

    asm.jmpImm('jeq', R0, 0, onFull(drops)),
    asm.movReg(R9, R0),

    // Fill event (same as before)
    fillProcessEvent(R9, 0),

    // **OPTIMIZATION**: Discard if not interesting
    asm.loadMem('w', R1, R9, OFF.pid), //              Check PID
    asm.jmpImm('jlt', R1, minPid, 'discard'), //       Ignore low PIDs

    // Submit interesting events
    asm.movReg(R1, R9),
    asm.mov(R2, 0),
    asm.call('ringbuf_submit'),
    asm.jmp('exit'),

    // **OPTIMIZATION**: Discard uninteresting events (no wakeup)
    asm.label('discard'),
    asm.movReg(R1, R9),
    asm.mov(R2, RINGBUF_FLAG.no_wakeup), //            BPF_RB_NO_WAKEUP
    asm.call('ringbuf_discard'),
    countDropWhenFull(drops),

    asm.label('exit'),
    asm.mov(R0, 0),
    asm.exit(),
  ];
}

/** The program for `mode`, counting ring-full drops into `drops`. */
export function execProgram(mode: ExecMode, ring: MapRef, drops: DropCounter | MapRef, minPid = 1000): AsmInput[] {
  switch (mode) {
    case 'zerocopy':
      return zeroCopyProgram(ring, drops);
    case 'copy':
      return copyBasedProgram(ring, drops);
    case 'filtered':
      return batchedZeroCopyProgram(ring, minPid, drops);
  }
}
