/**
 * BPF iterators (`SEC("iter/task")`, `iter/bpf_map`, `iter/tcp`, ...): a `tracing` program loaded against the
 * kernel's `bpf_iter_<name>` function (its BTF id, expected attach type trace_iter), linked with BPF_LINK_CREATE
 * (optionally narrowed to one map, task or cgroup through bpf_iter_link_info). Each BPF_ITER_CREATE on the link
 * gives a seq_file fd; reading it to EOF runs the program over every object, collecting what it
 * BPF_SEQ_PRINTFs / bpf_seq_write()s. The fd is an ordinary file: Node's fs reads it, no addon call needed.
 */
import { closeSync, read, readSync } from 'node:fs';
import { promisify } from 'node:util';
import { NotSupportedError } from '../pure/errors.js';
import { ATTACH_TYPE, BPF_CMD } from '../pure/uapi.js';
import { vmlinuxBtf } from './attach-tracing.js';
import { BpfError } from './errors.js';
import { AttachError, Link, requireProgramType, type LinkPart } from './link.js';
import type { Program, ProgramLoadOptions } from './program.js';
import { Attr, argError, bpf, bpfRaw, OwnedFd } from './syscall.js';

const readAsync = promisify(read);

/** Kernel prefix of iterator target functions: `iter/task` attaches to `bpf_iter_task`. */
const ITER_PREFIX = 'bpf_iter_';
const ITER_INFO_SIZE = 16; // union bpf_iter_link_info (its largest member, cgroup: u32 order, u32 fd, u64 id)
const DEFAULT_CHUNK = 64 * 1024;
const EAGAIN = 11;
const EINTR = 4;

/** The BTF id of `bpf_iter_<target>` in vmlinux (what an `iter/<target>` program loads against). */
export function iterTargetBtfId(target: string): number {
  if (typeof target !== 'string' || !/^[A-Za-z0-9_]+$/.test(target))
    throw argError(`iterator target must be a name like "task" or "bpf_map", got ${JSON.stringify(target)}`);
  const name = target.startsWith(ITER_PREFIX) ? target : ITER_PREFIX + target;
  const id = vmlinuxBtf().findByName(name, 'func');
  if (id === undefined)
    throw new AttachError(
      'ENOENT',
      `iter/${target}`,
      `the kernel has no BPF iterator "${target}" (no ${name} in its BTF); some iterators come with modules or newer kernels`,
    );
  return id;
}

/** Options for Program.loadIter: a program for iterator `target`. */
export interface IterLoadOptions extends Omit<ProgramLoadOptions, 'type' | 'expectedAttachType' | 'attachBtfId'> {
  /** Iterator name: `task`, `task_file`, `bpf_map`, `bpf_map_elem`, `tcp`, `udp`, `cgroup`, ... */
  target: string;
  /** Load sleepable (`iter.s/`). */
  sleepable?: boolean;
}

const BPF_F_SLEEPABLE = 1 << 4;

/** The Program.load options for an iterator program. */
export function iterLoadOptions(opts: IterLoadOptions): ProgramLoadOptions {
  if (!opts || typeof opts !== 'object') throw argError('loadIter needs { target, instructions }');
  const { target, sleepable, ...rest } = opts;
  return {
    ...rest,
    type: 'tracing',
    expectedAttachType: 'trace_iter',
    attachBtfId: iterTargetBtfId(target),
    flags: (rest.flags ?? 0) | (sleepable ? BPF_F_SLEEPABLE : 0),
  };
}

const EPERM = 1;

/**
 * A root BPF_PROG_LOAD refused with EPERM and no verifier log is the kernel (lockdown, a sandbox) refusing
 * this iterator kind, not a privilege problem: say so with a NotSupportedError.
 */
export function explainIterLoadError(e: unknown, target: string): unknown {
  if (e instanceof BpfError && e.errno === EPERM && process.getuid?.() === 0 && !(e as { log?: string }).log) {
    return new NotSupportedError(
      `BPF iterator "${target}"`,
      `the kernel refuses to load iter/${target} programs (EPERM as root, no verifier log: a locked-down or sandboxed kernel)`,
      { cause: e },
    );
  }
  return e;
}

/** What to iterate over (bpf_iter_link_info); default: every object of the target's kind. */
export interface IterOptions {
  /** `bpf_map_elem`, `bpf_sk_storage_map`, ...: the map whose elements to visit. */
  map?: { fd: number };
  /** `task`, `task_file`, `task_vma`: only this thread (tid), process (pid) or pidfd's process. */
  task?: { tid?: number; pid?: number; pidFd?: number };
  /** `cgroup`: start at this cgroup (fd of its directory) and walk in this order. */
  cgroup?: { fd: number; order?: 'self' | 'descendants_pre' | 'descendants_post' | 'ancestors_up' };
}

const CGROUP_ORDER = { self: 1, descendants_pre: 2, descendants_post: 3, ancestors_up: 4 } as const;

function encodeIterInfo(opts: IterOptions): Uint8Array | undefined {
  const given = [opts.map, opts.task, opts.cgroup].filter((x) => x !== undefined).length;
  if (given === 0) return undefined;
  if (given > 1) throw argError('attachIter takes one of { map, task, cgroup }');
  const a = new Attr(ITER_INFO_SIZE);
  const fd = (v: unknown, what: string): number => {
    if (!Number.isInteger(v) || (v as number) < 0)
      throw argError(`attachIter ${what} must be a file descriptor, got ${String(v)}`);
    return v as number;
  };
  if (opts.map) a.u32(0, fd(opts.map.fd, 'map.fd'));
  else if (opts.task) {
    const t = opts.task;
    const set = [t.tid, t.pid, t.pidFd].filter((x) => x !== undefined).length;
    if (set !== 1) throw argError('attachIter task takes exactly one of { tid, pid, pidFd }');
    for (const [v, n] of [
      [t.tid, 'tid'],
      [t.pid, 'pid'],
    ] as const)
      if (v !== undefined && (!Number.isInteger(v) || v <= 0))
        throw argError(`attachIter task.${n} must be a positive integer, got ${v}`);
    a.u32(0, t.tid ?? 0)
      .u32(4, t.pid ?? 0)
      .u32(8, t.pidFd !== undefined ? fd(t.pidFd, 'task.pidFd') : 0);
  } else if (opts.cgroup) {
    const order = CGROUP_ORDER[opts.cgroup.order ?? 'self'];
    if (order === undefined)
      throw argError(`attachIter cgroup.order must be one of ${Object.keys(CGROUP_ORDER).join(', ')}`);
    a.u32(0, order).u32(4, fd(opts.cgroup.fd, 'cgroup.fd'));
  }
  return a.bytes;
}

// Set by IterLink's static block: attachIter() makes them; users cannot.
let newIterLink: (parts: LinkPart[], what: string) => IterLink;

/**
 * An attached iterator. Each read runs the iterator afresh over the current objects.
 *
 * ```ts
 * using it = obj.programs.dump_task.program.attachIter();
 * console.log(it.read());                       // everything the program printed
 * for await (const chunk of it) process.stdout.write(chunk);
 * ```
 */
export class IterLink extends Link {
  static {
    newIterLink = (parts, what) => new IterLink(parts, what);
  }

  private constructor(parts: LinkPart[], what: string) {
    super(parts, what);
  }

  /** Opens a new iteration: a readable fd (the caller closes it, e.g. with fs.closeSync). */
  open(): number {
    return bpf(BPF_CMD.iter_create, new Attr(8).u32(0, this.fd).bytes, this.what);
  }

  /** Runs the iterator to the end and returns its output as bytes. */
  readBytes(): Buffer {
    const fd = this.open();
    const chunks: Buffer[] = [];
    try {
      for (;;) {
        const buf = Buffer.allocUnsafe(DEFAULT_CHUNK);
        const n = readIter(fd, buf, this.what);
        if (n === 0) break;
        chunks.push(buf.subarray(0, n));
      }
    } finally {
      closeSync(fd);
    }
    return Buffer.concat(chunks);
  }

  /** Runs the iterator to the end and returns its output as UTF-8 text. */
  read(): string {
    return this.readBytes().toString('utf8');
  }

  /** Runs the iterator, yielding its output in chunks as the kernel produces them (reads off the main thread). */
  async *chunks(options: { size?: number } = {}): AsyncGenerator<Buffer, void, undefined> {
    const size = options.size ?? DEFAULT_CHUNK;
    if (!Number.isInteger(size) || size <= 0) throw argError(`chunk size must be a positive integer, got ${size}`);
    const fd = this.open();
    try {
      for (;;) {
        const buf = Buffer.allocUnsafe(size);
        let n: number;
        try {
          n = (await readAsync(fd, buf, 0, size, null)).bytesRead;
        } catch (e) {
          throw iterReadError(e, this.what);
        }
        if (n === 0) return;
        yield buf.subarray(0, n);
      }
    } finally {
      closeSync(fd);
    }
  }

  [Symbol.asyncIterator](): AsyncGenerator<Buffer, void, undefined> {
    return this.chunks();
  }
}

function iterReadError(e: unknown, what: string): unknown {
  const errno = (e as NodeJS.ErrnoException).errno;
  if (typeof errno === 'number')
    return new BpfError(-errno, {
      syscall: 'read',
      object: what,
      hint: 'the iterator program failed while running (e.g. -E2BIG: one object printed more than a page)',
    });
  return e;
}

function readIter(fd: number, buf: Buffer, what: string): number {
  for (;;) {
    try {
      return readSync(fd, buf, 0, buf.byteLength, null);
    } catch (e) {
      const errno = -((e as NodeJS.ErrnoException).errno ?? 0);
      if (errno === EAGAIN || errno === EINTR) continue;
      throw iterReadError(e, what);
    }
  }
}

/** Links an iterator program (BPF_LINK_CREATE, attach type trace_iter), optionally narrowed to a map/task/cgroup. */
export function attachIter(program: Program, opts: IterOptions = {}): IterLink {
  requireProgramType(program, ['tracing'], 'iterator');
  if (opts === null || typeof opts !== 'object') throw argError('attachIter options must be an object');
  if (program.expectedAttachType !== undefined && program.expectedAttachType !== 'trace_iter') {
    throw new TypeError(
      `tsbpf: program "${program.name}" was loaded as ${program.expectedAttachType}, not as an iterator (trace_iter)`,
    );
  }
  const info = encodeIterInfo(opts);
  const what = `iterator "${program.name || '(unnamed)'}"`;
  const a = new Attr(64).u32(0, program.fd).u32(8, ATTACH_TYPE.trace_iter);
  if (info) a.ptr(16, info).u32(24, info.byteLength);
  const r = bpfRaw(BPF_CMD.link_create, a.bytes);
  if (r < 0)
    throw new BpfError(-r, {
      syscall: 'bpf',
      command: 'BPF_LINK_CREATE',
      object: what,
      hint:
        r === -22
          ? 'is it an iter/ program, and does its target take this filter (map for bpf_map_elem, task for task*, cgroup for cgroup)?'
          : undefined,
    });
  return newIterLink([{ link: new OwnedFd(r, what) }], what);
}
