/**
 * The chapter's variable-length exercise for `tsbpf trace open`: on syscalls:sys_enter_openat, read
 * the filename to the stack, then reserve exactly header + strlen + 1 bytes in the ring. A variable
 * size cannot go through `ringbuf_reserve` (the verifier wants a constant), so the reservation is
 * `ringbuf_reserve_dynptr`, filled with `dynptr_write` and submitted with `ringbuf_submit_dynptr`.
 */
import { asm, R0, R1, R2, R3, R4, R5, R6, R7, R10, type AsmInput, type MapRef } from 'tsbpf';
import { t } from 'tsbpf';
import { asmCountDrop, type DropCounter } from 'tsbpf';
import { taskFilterItems, type TaskFilter } from './task-filter.js';
import { gateItems, highWhenAnyBit, type Gate } from './overload-policy.js';

/** Opens that may write (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC): high priority under `--overload sample`. */
export const WRITE_OPEN_FLAGS = 0o1 | 0o2 | 0o100 | 0o1000;

/** Fixed part of each record; the filename (with its NUL, `len` bytes) follows. */
export const OpenEventHeader = t.struct({
  ts: t.u64num,
  pid: t.u32,
  tid: t.u32,
  flags: t.u32,
  len: t.u32,
  comm: t.cstring(16),
});
export const OPEN_HEADER_SIZE = OpenEventHeader.size; // 40
/** Longest filename captured, NUL included (PATH_MAX is 4096; the chapter uses 256). */
export const MAX_FILENAME = 256;

const H = {
  ts: OpenEventHeader.offsetOf('ts'),
  pid: OpenEventHeader.offsetOf('pid'),
  tid: OpenEventHeader.offsetOf('tid'),
  flags: OpenEventHeader.offsetOf('flags'),
  len: OpenEventHeader.offsetOf('len'),
  comm: OpenEventHeader.offsetOf('comm'),
};
/** syscalls:sys_enter_openat context offsets (events/syscalls/sys_enter_openat/format). */
const TP = { filename: 24, flags: 32 } as const;

// Stack: [dynptr 16][header 40][filename 256] ending at r10.
const NAME_AT = -MAX_FILENAME;
const HDR_AT = NAME_AT - OPEN_HEADER_SIZE;
const DYNPTR_AT = HDR_AT - 16;

/** The openat tracer. */
export function openatProgram(ring: MapRef, drops: DropCounter | MapRef, filter: TaskFilter, gate?: Gate): AsmInput[] {
  return [
    asm.movReg(R6, R1), //                                    ctx
    taskFilterItems(filter, 'out', -16),
    // --overload sample: opens that may write are high priority (always sent), read-only opens thinned under load.
    gate
      ? [
          asm.loadMem('dw', R1, R6, TP.flags),
          highWhenAnyBit(WRITE_OPEN_FLAGS, 'ovl'),
          gateItems(gate, ring, R2, 'out', DYNPTR_AT - 8),
        ]
      : [],
    // len = bpf_probe_read_user_str(filename, sizeof(filename), args->filename)
    asm.movReg(R1, R10),
    asm.add(R1, NAME_AT),
    asm.mov(R2, MAX_FILENAME),
    asm.loadMem('dw', R3, R6, TP.filename),
    asm.call('probe_read_user_str'),
    asm.jmpImm('jsle', R0, 0, 'out'), //                      if (len < 0) return 0 (and never empty)
    asm.jmpImm('jgt', R0, MAX_FILENAME, 'out'), //            bounds for the verifier
    asm.movReg(R7, R0),
    // header
    asm.call('ktime_get_ns'),
    asm.storeMem('dw', R10, HDR_AT + H.ts, R0),
    asm.call('get_current_pid_tgid'),
    asm.storeMem('w', R10, HDR_AT + H.tid, R0),
    asm.rsh(R0, 32),
    asm.storeMem('w', R10, HDR_AT + H.pid, R0),
    asm.loadMem('dw', R1, R6, TP.flags),
    asm.storeMem('w', R10, HDR_AT + H.flags, R1),
    asm.storeMem('w', R10, HDR_AT + H.len, R7),
    asm.movReg(R1, R10),
    asm.add(R1, HDR_AT + H.comm),
    asm.mov(R2, 16),
    asm.call('get_current_comm'),
    // Reserve exact size needed: sizeof(header) + len
    asm.ldMapFd(R1, ring),
    asm.movReg(R2, R7),
    asm.add(R2, OPEN_HEADER_SIZE),
    asm.mov(R3, 0),
    asm.movReg(R4, R10),
    asm.add(R4, DYNPTR_AT),
    asm.call('ringbuf_reserve_dynptr'),
    asm.jmpImm('jne', R0, 0, 'full'),
    asm.movReg(R1, R10),
    asm.add(R1, DYNPTR_AT),
    asm.mov(R2, 0), //                                        offset
    asm.movReg(R3, R10),
    asm.add(R3, HDR_AT), //                                   header and filename are contiguous
    asm.movReg(R4, R7),
    asm.add(R4, OPEN_HEADER_SIZE),
    asm.mov(R5, 0),
    asm.call('dynptr_write'),
    asm.jmpImm('jne', R0, 0, 'discard'),
    asm.movReg(R1, R10),
    asm.add(R1, DYNPTR_AT),
    asm.mov(R2, 0),
    asm.call('ringbuf_submit_dynptr'),
    asm.jmp('out'),
    // A failed dynptr reservation must still be released.
    asm.label('full'),
    asmCountDrop(drops, { stackOffset: -4 }),
    asm.label('discard'),
    asm.movReg(R1, R10),
    asm.add(R1, DYNPTR_AT),
    asm.mov(R2, 0),
    asm.call('ringbuf_discard_dynptr'),
    asm.label('out'),
    asm.mov(R0, 0),
    asm.exit(),
  ];
}
