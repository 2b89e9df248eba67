/**
 * In-kernel task filters for the tracers: `--pid`, `--comm` and "not the tracer itself", emitted as
 * assembler items so unwanted events never reach the ring. Comm comparison is two 64-bit compares
 * against the name as the kernel stores it (15 characters, NUL-padded to 16).
 */
import { asm, R0, R1, R2, R10, type AsmItem } from 'tsbpf';

/** Which tasks a tracer keeps. */
export interface TaskFilter {
  /** Keep only this process (tgid). */
  pid?: number;
  /** Keep only tasks whose comm is exactly this (truncated to 15 bytes, as the kernel does). */
  comm?: string;
  /** Drop this process (tgid): the tracer's own syscalls would otherwise feed back into it. */
  excludePid?: number;
}

/** The 16-byte comm the kernel would store for `name` (truncated to 15 bytes, NUL-padded). */
export function commBytes(name: string): Uint8Array {
  const out = new Uint8Array(16);
  const bytes = Buffer.from(name, 'utf8');
  out.set(bytes.subarray(0, 15));
  return out;
}

/** Whether a filter restricts anything. */
export function filterIsEmpty(f: TaskFilter): boolean {
  return f.pid === undefined && f.comm === undefined && f.excludePid === undefined;
}

/**
 * Items that jump to `skip` unless the current task passes `filter`. Clobbers R0–R5 and 16 bytes of
 * stack at `stackOff` (negative, 8-aligned). Save the context in a callee-saved register first.
 */
export function taskFilterItems(filter: TaskFilter, skip: string, stackOff = -16): AsmItem[] {
  if (stackOff > -16 || stackOff % 8 !== 0)
    throw new RangeError(`taskFilterItems: stackOff must be 8-aligned and <= -16, got ${stackOff}`);
  const items: AsmItem[] = [];
  if (filter.pid !== undefined || filter.excludePid !== undefined) {
    items.push(asm.call('get_current_pid_tgid'), asm.rsh(R0, 32)); // tgid
    if (filter.pid !== undefined) items.push(asm.jmpImm('jne', R0, checkPid(filter.pid), skip));
    if (filter.excludePid !== undefined) items.push(asm.jmpImm('jeq', R0, checkPid(filter.excludePid), skip));
  }
  if (filter.comm !== undefined) {
    const want = new DataView(commBytes(filter.comm).buffer);
    items.push(
      asm.movReg(R1, R10),
      asm.add(R1, stackOff),
      asm.mov(R2, 16),
      asm.call('get_current_comm'),
      asm.loadMem('dw', R1, R10, stackOff),
      asm.ldImm64(R2, want.getBigUint64(0, true)),
      asm.jmpReg('jne', R1, R2, skip),
      asm.loadMem('dw', R1, R10, stackOff + 8),
      asm.ldImm64(R2, want.getBigUint64(8, true)),
      asm.jmpReg('jne', R1, R2, skip),
    );
  }
  return items;
}

function checkPid(pid: number): number {
  if (!Number.isInteger(pid) || pid < 1 || pid > 0x7fffffff)
    throw new RangeError(`pid must be a positive 32-bit integer, got ${pid}`);
  return pid;
}
