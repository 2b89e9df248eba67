/**
 * One error hierarchy for everything the kernel refuses: BpfError (any syscall) and VerifierError
 * (a program the verifier rejected, with its log and the failing instruction).
 */
import { TsbpfError } from '../pure/errors.js';
import { constants } from 'node:os';
export { TsbpfError, NotSupportedError } from '../pure/errors.js';

const ERRNO_NAMES: Record<number, string> = {};
for (const [name, num] of Object.entries(constants.errno)) ERRNO_NAMES[num as number] ??= name;
// Kernel-internal codes that leak to user space through bpf(2).
ERRNO_NAMES[524] ??= 'ENOTSUPP';

/** The symbolic name of an errno number (`ENOENT`), or `E<num>`. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `E${errno}`;
}

/** Where the failure happened, for the message. */
export interface BpfErrorContext {
  /** The syscall: `bpf`, `perf_event_open`, `ioctl`, `mmap`, ... */
  syscall: string;
  /** The command (`BPF_MAP_CREATE`) or ioctl name. */
  command?: string;
  /** The object it concerned: `map "events" (ringbuf)`, `tracepoint sched:sched_process_exec`. */
  object?: string;
  /** What the user can do about it. */
  hint?: string;
}

const PRIVILEGE_HINT =
  'tsbpf needs root, or CAP_BPF plus CAP_PERFMON (tracing) / CAP_NET_ADMIN (networking); run with sudo or grant the capabilities';

/** A failed kernel call: the syscall, command, errno name and number, the object and a hint. */
export class BpfError extends TsbpfError {
  override name = 'BpfError';
  readonly syscall: string;
  readonly command: string | undefined;
  readonly errno: number;
  /** Symbolic errno name, e.g. `ENOENT`. */
  readonly code: string;
  readonly object: string | undefined;
  readonly hint: string | undefined;

  constructor(errno: number, ctx: BpfErrorContext, detail?: string) {
    const code = errnoName(errno);
    let hint = ctx.hint;
    if (!hint && (errno === constants.errno.EPERM || errno === constants.errno.EACCES) && !isRoot())
      hint = PRIVILEGE_HINT;
    const where = ctx.command ? `${ctx.syscall}(${ctx.command})` : ctx.syscall;
    const obj = ctx.object ? ` on ${ctx.object}` : '';
    super(`${where} failed${obj}: ${code} (${errno})${detail ? `: ${detail}` : ''}${hint ? `. ${hint}` : ''}`);
    this.syscall = ctx.syscall;
    this.command = ctx.command;
    this.errno = errno;
    this.code = code;
    this.object = ctx.object;
    this.hint = hint;
  }
}

/** The verifier rejected a program: `log` is its full output, `instruction` the failing index. */
export class VerifierError extends BpfError {
  override name = 'VerifierError';
  /** The complete verifier log. */
  readonly log: string;
  /** Index of the instruction the verifier stopped at, when the log names one. */
  readonly instruction: number | undefined;
  /** The verifier's own last words (the reason), e.g. `R1 invalid mem access 'scalar'`. */
  readonly reason: string;
  /** Disassembly around the failing instruction, when available. */
  readonly context: string | undefined;
  /** The C source line of the failing instruction, for objects loaded with BTF line info. */
  source?: { file: string; line: number; column: number; text: string };

  constructor(errno: number, ctx: BpfErrorContext, log: string, context?: (insn: number) => string | undefined) {
    const { instruction, reason } = parseVerifierLog(log);
    const around = instruction !== undefined && context ? safe(() => context(instruction)) : undefined;
    const detail =
      `verifier rejected the program${instruction !== undefined ? ` at instruction ${instruction}` : ''}: ${reason}` +
      (around ? `\n${around}` : '');
    super(errno, { ...ctx, hint: ctx.hint ?? 'see error.log for the full verifier log' }, detail);
    this.log = log;
    this.instruction = instruction;
    this.reason = reason;
    this.context = around;
  }
}

function safe<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}

/** Finds the last instruction the verifier printed (`12: (85) call ...`) and its final complaint. */
export function parseVerifierLog(log: string): { instruction: number | undefined; reason: string } {
  const lines = log
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l.length > 0);
  let instruction: number | undefined;
  let lastInsnLine = -1;
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\d+): \([0-9a-f]{2}\)/.exec(lines[i]!);
    if (m) {
      instruction = Number(m[1]);
      lastInsnLine = i;
    }
  }
  // The reason is the first line after the last instruction that is not register state or stats.
  let reason = '';
  for (let i = lastInsnLine + 1; i < lines.length; i++) {
    const l = lines[i]!;
    if (/^processed \d+ insns/.test(l) || /^verification time/.test(l) || /^stack depth/.test(l)) continue;
    if (/^\d+: R\d/.test(l) || /^\s*R\d+[_=]/.test(l) || /^;/.test(l)) continue;
    reason = l;
    break;
  }
  if (!reason) reason = lines.filter((l) => !/^processed|^verification time|^stack depth/.test(l)).at(-1) ?? 'no log';
  return { instruction, reason };
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Throws a BpfError for a negative (-errno) native result; returns the result otherwise. */
export function check(result: number, ctx: BpfErrorContext): number {
  if (result < 0) throw new BpfError(-result, ctx);
  return result;
}

/** Thrown when a closed object (map, program, link, reader) is used. */
export class ClosedError extends TsbpfError {
  override name = 'ClosedError';
  readonly code = 'ERR_CLOSED';
  constructor(what: string) {
    super(`${what} is closed`);
  }
}
