/**
 * Lab 12.2 (zero-copy event collection), the seeds' Clojure programs written with tsbpf's assembler,
 * almost line for line. Each seed vector item `[(bpf/...)]` is one `asm.*` call; `[:exit]` is
 * `asm.label('exit')`. The event layout is shared with the JS decoder through `ProcessEvent`.
 *
 * Attach as a tracepoint on sched/sched_process_exec; or load as a socket_filter to test-run it
 * (the helpers used are available to both).
 */
import { asm, R0, R1, R2, R3, R4, R9, R10, t, type AsmItem, type MapRef } from '../src/index.js';

/** `(defrecord ProcessEvent [pid :u32 uid :u32 timestamp :u64 comm [16 :u8]])`. */
export const ProcessEvent = t.struct({ pid: t.u32, uid: t.u32, timestamp: t.u64, comm: t.cstring(16) });
/** `(def EVENT_SIZE 32)`. */
export const EVENT_SIZE = ProcessEvent.size;

/** The ring buffer both collectors write to: `{:type :ring_buffer :max-entries (* 256 1024)}`. */
export const eventBufferSpec = { type: 'ringbuf', keySize: 0, valueSize: 0, maxEntries: 256 * 1024 } as const;

/** The copy-based collector: builds the event on the stack, then `ringbuf_output` copies it. */
export function copyBasedProgram(ringMap: MapRef): AsmItem[] {
  const E = (field: 'pid' | 'uid' | 'timestamp' | 'comm') => -EVENT_SIZE + ProcessEvent.offsetOf(field);
  return [
    // Build event on stack
    asm.call('get_current_pid_tgid'),
    asm.rsh(R0, 32),
    asm.storeMem('w', R10, E('pid'), R0), //          PID  (r10 - 32)

    asm.call('get_current_uid_gid'),
    asm.rsh(R0, 32),
    asm.storeMem('w', R10, E('uid'), R0), //          UID  (r10 - 28)

    asm.call('ktime_get_ns'),
    asm.storeMem('dw', R10, E('timestamp'), R0), //   Timestamp (r10 - 24)

    asm.movReg(R1, R10),
    asm.add(R1, E('comm')), //                         r10 - 16
    asm.mov(R2, 16),
    asm.call('get_current_comm'),

    // **INEFFICIENT**: ringbuf_output copies data
    asm.ldMapFd(R1, ringMap),
    asm.movReg(R2, R10),
    asm.add(R2, -EVENT_SIZE), //                       Data pointer
    asm.mov(R3, EVENT_SIZE),
    asm.mov(R4, 0),
    asm.call('ringbuf_output'), //                     **COPIES DATA**

    asm.mov(R0, 0),
    asm.exit(),
  ];
}

/** The zero-copy collector: reserves the event in the ring and writes fields in place. */
export function zeroCopyProgram(ringMap: MapRef): AsmItem[] {
  return [
    // **ZERO-COPY**: Reserve space in ring buffer
    asm.ldMapFd(R1, ringMap),
    asm.mov(R2, EVENT_SIZE),
    asm.mov(R3, 0),
    asm.call('ringbuf_reserve'), //                    Returns pointer

    // Check if reservation succeeded
    asm.jmpImm('jeq', R0, 0, 'exit'),
    asm.movReg(R9, R0), //                             Save event pointer

    // **WRITE DIRECTLY TO RING BUFFER** (no copy!)
    asm.call('get_current_pid_tgid'),
    asm.rsh(R0, 32),
    asm.storeMem('w', R9, ProcessEvent.offsetOf('pid'), R0), //  Write PID directly

    asm.call('get_current_uid_gid'),
    asm.rsh(R0, 32),
    asm.storeMem('w', R9, ProcessEvent.offsetOf('uid'), R0), //  Write UID directly

    asm.call('ktime_get_ns'),
    asm.storeMem('dw', R9, ProcessEvent.offsetOf('timestamp'), R0), // Write timestamp directly

    // Write comm directly
    asm.movReg(R1, R9),
    asm.add(R1, ProcessEvent.offsetOf('comm')),
    asm.mov(R2, 16),
    asm.call('get_current_comm'),

    // **SUBMIT** (just updates pointer, no copy)
    asm.movReg(R1, R9),
    asm.mov(R2, 0),
    asm.call('ringbuf_submit'),

    asm.label('exit'),
    asm.mov(R0, 0),
    asm.exit(),
  ];
}

/**
 * The batched variant: fills the event, then discards it without a wakeup when the PID is below
 * `minPid` (the seed's 1000) and submits it otherwise. The seed elides the fill ("same as before");
 * it is written out here so the PID check reads an initialised field.
 */
export function batchedZeroCopyProgram(ringMap: MapRef, minPid = 1000): AsmItem[] {
  return [
    // Reserve
    asm.ldMapFd(R1, ringMap),
    asm.mov(R2, EVENT_SIZE),
    asm.mov(R3, 0),
    asm.call('ringbuf_reserve'),

    asm.jmpImm('jeq', R0, 0, 'exit'),
    asm.movReg(R9, R0),

    // Fill event (same as before)
    asm.call('get_current_pid_tgid'),
    asm.rsh(R0, 32),
    asm.storeMem('w', R9, ProcessEvent.offsetOf('pid'), R0),
    asm.call('get_current_uid_gid'),
    asm.rsh(R0, 32),
    asm.storeMem('w', R9, ProcessEvent.offsetOf('uid'), R0),
    asm.call('ktime_get_ns'),
    asm.storeMem('dw', R9, ProcessEvent.offsetOf('timestamp'), R0),
    asm.movReg(R1, R9),
    asm.add(R1, ProcessEvent.offsetOf('comm')),
    asm.mov(R2, 16),
    asm.call('get_current_comm'),

    // **OPTIMIZATION**: Discard if not interesting
    asm.loadMem('w', R1, R9, ProcessEvent.offsetOf('pid')), // Check PID
    asm.jmpImm('jlt', R1, minPid, 'discard'), //               Ignore low PIDs

    // Submit interesting events
    asm.movReg(R1, R9),
    asm.mov(R2, 0),
    asm.call('ringbuf_submit'),
    asm.jmp('exit'),

    // **OPTIMIZATION**: Discard uninteresting events (no wakeup)
    asm.label('discard'),
    asm.movReg(R1, R9),
    asm.mov(R2, 1), //                                 BPF_RB_NO_WAKEUP
    asm.call('ringbuf_discard'),

    asm.label('exit'),
    asm.mov(R0, 0),
    asm.exit(),
  ];
}
