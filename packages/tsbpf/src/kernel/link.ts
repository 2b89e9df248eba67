/**
 * Link: a program attached somewhere. Either a kernel BPF link (an fd the kernel detaches when the
 * last reference goes; pinnable, updatable, introspectable) or, where the kernel has no link type,
 * a perf event carrying the program (PERF_EVENT_IOC_SET_BPF). A per-CPU attachment (perf events) is
 * one Link over several parts, detached together.
 */
import { TsbpfError } from '../pure/errors.js';
import { ATTACH_TYPE, BPF_CMD, LINK_TYPE, nameOf } from '../pure/uapi.js';
import { BpfError, ClosedError } from './errors.js';
import { preparePinPath } from './fs-mounts.js';
import { native } from './native.js';
import type { Program } from './program.js';
import { Attr, argError, bpf, bpfRaw, cString, OwnedFd } from './syscall.js';
import { trackLink, untrackLink } from './cleanup.js';

/** perf_event ioctls (x86_64 encodings). */
export const PERF_IOC = { enable: 0x2400, disable: 0x2401, setBpf: 0x40042408 } as const;

/**
 * An attach target does not exist (unknown tracepoint, function, interface, cgroup) or is taken. A kernel
 * that lacks the attach mechanism itself (kprobes, uprobes, TCX, ...) throws `NotSupportedError` instead.
 */
export class AttachError extends TsbpfError {
  override name = 'AttachError';
  /** `ENOENT` (no such target), `ENODEV` (no such interface), `ENOSPC` (a table of attachments is full), `EEXIST` (the slot is taken). */
  readonly code: 'ENOENT' | 'ENODEV' | 'ENOSPC' | 'EEXIST';
  /** The target as the user named it: `tracepoint sched:nope`, `interface eth9`. */
  readonly target: string;
  constructor(code: AttachError['code'], target: string, message: string) {
    super(`tsbpf: cannot attach to ${target}: ${message}`);
    this.code = code;
    this.target = target;
  }
}

/** One attached piece: a BPF link fd, a perf event fd, or both. */
export interface LinkPart {
  link?: OwnedFd;
  perf?: OwnedFd;
}

/** bpf_perf_event_type, for perf_event link info. */
const PERF_EVENT_KIND = ['unspec', 'uprobe', 'uretprobe', 'kprobe', 'kretprobe', 'tracepoint', 'event'] as const;

/** What BPF_OBJ_GET_INFO_BY_FD says about a link. */
export interface LinkInfo {
  /** Link type name: `perf_event`, `raw_tracepoint`, `tracing`, `xdp`, `tcx`, `cgroup`, ... */
  type: string;
  typeId: number;
  id: number;
  programId: number;
  /** raw_tracepoint: the tracepoint name. */
  tracepoint?: string;
  /** tracing, cgroup, tcx: the attach type name (`trace_fentry`, `cgroup_inet_egress`, `tcx_ingress`). */
  attachType?: string;
  /** tracing: the target's BTF object id and type id. */
  targetObjId?: number;
  targetBtfId?: number;
  /** cgroup: the cgroup id (its inode number on cgroup2). */
  cgroupId?: bigint;
  /** xdp, tcx: the interface index. */
  ifindex?: number;
  /** perf_event: `tracepoint`, `uprobe`, `uretprobe`, `kprobe`, `event`. */
  perfEventType?: string;
  /** perf_event uprobe: binary path and file offset. */
  file?: string;
  offset?: number;
  /** perf_event event: perf type and config. */
  perfType?: number;
  config?: bigint;
  cookie?: bigint;
}

/** Options for Link.update. */
export interface LinkUpdateOptions {
  /** Replace only if this program is the one attached (BPF_F_REPLACE). */
  expected?: Program;
}

const BPF_F_REPLACE = 4;
const ENOENT = 2;

/**
 * An attachment of a program. Close it (or let `using` dispose it) to detach; pin it to keep it
 * attached after the process exits.
 *
 * ```ts
 * using link = prog.attachTracepoint('sched', 'sched_process_exec');
 * link.info(); // { type: 'perf_event', perfEventType: 'tracepoint', tracepoint: 'sched_process_exec', ... }
 * ```
 */
export class Link {
  readonly #parts: LinkPart[];
  readonly #what: string;
  #closed = false;

  /** Wraps attached parts (link and/or perf fds). Links come from `Program.attach…`, `Link.fromFd` and `Link.fromPin`. */
  protected constructor(parts: LinkPart[], what: string) {
    if (parts.length === 0) throw argError('a Link needs at least one part');
    this.#parts = parts;
    this.#what = what;
    trackLink(this);
  }

  /**
   * Wraps attached parts: the attach functions' constructor.
   * @internal
   */
  static create(parts: LinkPart[], what: string): Link {
    return new Link(parts, what);
  }

  /** Wraps a raw link fd the caller owns (it is closed with the Link). */
  static fromFd(fd: number, what = `link fd ${fd}`): Link {
    return new Link([{ link: new OwnedFd(fd, what) }], what);
  }

  /** Opens a link pinned on bpffs (it stays attached until unpinned and closed). */
  static fromPin(path: string): Link {
    preparePinPath(path);
    const p = cString(path);
    const fd = bpf(BPF_CMD.obj_get, new Attr(24).ptr(0, p).bytes, `pinned link ${path}`);
    const link = Link.fromFd(fd, `link pinned at ${path}`);
    try {
      link.info();
    } catch (e) {
      link.close();
      throw new TypeError(`tsbpf: ${path} is not a BPF link (${(e as Error).message})`);
    }
    return link;
  }

  /** Opens a link by kernel id (as listed by Link.ids()). */
  static fromId(id: number): Link {
    const fd = bpf(BPF_CMD.link_get_fd_by_id, new Attr(12).u32(0, id).bytes, `link id ${id}`);
    return Link.fromFd(fd, `link id ${id}`);
  }

  /** Ids of every BPF link in the system (BPF_LINK_GET_NEXT_ID), ascending. */
  static ids(): number[] {
    return nextIds(BPF_CMD.link_get_next_id, 'links');
  }

  /** Ids of every loaded BPF program (BPF_PROG_GET_NEXT_ID), ascending. */
  static programIds(): number[] {
    return nextIds(BPF_CMD.prog_get_next_id, 'programs');
  }

  /** What this link is attached to, for messages. */
  get what(): string {
    return this.#what;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** How many parts (CPUs for a per-CPU perf attachment; 1 otherwise). */
  get size(): number {
    return this.#parts.length;
  }

  /** True when the kernel represents this attachment as a BPF link (pin/info/update work). */
  get isBpfLink(): boolean {
    return this.#parts.every((p) => p.link !== undefined);
  }

  /** The BPF link fd (the first part's for multi-part links). Throws when closed or not a BPF link. */
  get fd(): number {
    return this.#linkFd(0, 'fd');
  }

  /** The perf event fd behind a perf-based attachment (first part), if any. */
  get perfFd(): number | undefined {
    this.#check();
    return this.#parts[0]!.perf?.fd;
  }

  /** Kernel metadata of the link (first part for multi-part links; see infos()). */
  info(): LinkInfo {
    return readLinkInfo(this.#linkFd(0, 'info()'), this.#what);
  }

  /** Kernel metadata of every part. */
  infos(): LinkInfo[] {
    return this.#parts.map((_, i) => readLinkInfo(this.#linkFd(i, 'infos()'), this.#what));
  }

  /** Pins the link on bpffs: it stays attached after this process closes it or exits. */
  pin(path: string): void {
    if (this.#parts.length !== 1)
      throw argError(
        `${this.#what}: a link of ${this.#parts.length} parts cannot be pinned as one; pin is for single links`,
      );
    const fd = this.#linkFd(0, 'pin()');
    preparePinPath(path);
    const p = cString(path);
    bpf(BPF_CMD.obj_pin, new Attr(24).ptr(0, p).u32(8, fd).bytes, `${this.#what} → ${path}`);
  }

  /**
   * Atomically replaces the attached program (BPF_LINK_UPDATE). The kernel allows it for xdp, tcx,
   * cgroup, netns and iter links; perf_event, raw_tracepoint and tracing links refuse (EOPNOTSUPP/EINVAL).
   */
  update(program: Program, opts: LinkUpdateOptions = {}): void {
    if (!program || typeof (program as { fd?: unknown }).fd !== 'number') throw argError('update() needs a Program');
    for (let i = 0; i < this.#parts.length; i++) {
      const a = new Attr(16).u32(0, this.#linkFd(i, 'update()')).u32(4, program.fd);
      if (opts.expected) a.u32(8, BPF_F_REPLACE).u32(12, opts.expected.fd);
      bpf(
        BPF_CMD.link_update,
        a.bytes,
        this.#what,
        'the kernel cannot swap programs on this link type (perf_event and tracing links are fixed; xdp, tcx and cgroup links can), or the program type/attach type differs',
      );
    }
  }

  /**
   * Detaches the program now (BPF_LINK_DETACH), even when the link is pinned or its fd is shared;
   * the Link stays open but defunct until closed. Perf-based attachments are closed.
   */
  detach(): void {
    this.#check();
    for (const p of this.#parts) {
      if (p.link) bpf(BPF_CMD.link_detach, new Attr(4).u32(0, p.link.fd).bytes, this.#what);
      else if (p.perf) {
        native.ioctl(p.perf.fd, PERF_IOC.disable, 0);
        p.perf.close();
      }
    }
  }

  /** Detaches (unless pinned) and releases every fd. Safe twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    untrackLink(this);
    for (const p of this.#parts) {
      // Disable first so a legacy SET_BPF attachment stops firing before the fd goes.
      if (p.perf && !p.perf.closed && !p.link) native.ioctl(p.perf.fd, PERF_IOC.disable, 0);
      p.link?.close();
      p.perf?.close();
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #check(): void {
    if (this.#closed) throw new ClosedError(this.#what);
  }

  #linkFd(i: number, op: string): number {
    this.#check();
    const p = this.#parts[i]!;
    if (!p.link)
      throw new TypeError(
        `tsbpf: ${this.#what} is attached through a perf event (no BPF link on this kernel path), so ${op} is not available`,
      );
    return p.link.fd;
  }
}

function nextIds(cmd: number, what: string): number[] {
  const ids: number[] = [];
  const a = new Attr(12);
  let start = 0;
  for (;;) {
    a.reset().u32(0, start);
    const r = bpfRaw(cmd, a.bytes);
    if (r === -ENOENT) return ids;
    if (r < 0)
      throw new BpfError(-r, {
        syscall: 'bpf',
        command: cmd === BPF_CMD.link_get_next_id ? 'BPF_LINK_GET_NEXT_ID' : 'BPF_PROG_GET_NEXT_ID',
        object: what,
      });
    start = a.getU32(4);
    ids.push(start);
  }
}

const INFO_SIZE = 64;

function readLinkInfo(fd: number, what: string): LinkInfo {
  const info = new Attr(INFO_SIZE);
  const name = new Uint8Array(4096);
  const a = new Attr(16).u32(0, fd).u32(4, INFO_SIZE).ptr(8, info.bytes);
  bpf(BPF_CMD.obj_get_info_by_fd, a.bytes, what);
  const typeId = info.getU32(0);
  const type = nameOf(LINK_TYPE, typeId);
  const out: LinkInfo = { type, typeId, id: info.getU32(4), programId: info.getU32(8) };
  const attachName = (n: number) => nameOf(ATTACH_TYPE, n);
  const str = (len: number) =>
    Buffer.from(name.subarray(0, Math.max(0, Math.min(len, name.length) - 1)))
      .toString('utf8')
      .replace(/\0.*$/s, '');
  // Name-carrying kinds need a second call with a buffer (the kernel fills in/out pointers).
  const again = (fill: (x: Attr) => void): void => {
    info.reset();
    fill(info);
    bpf(BPF_CMD.obj_get_info_by_fd, new Attr(16).u32(0, fd).u32(4, INFO_SIZE).ptr(8, info.bytes).bytes, what);
  };
  const v = info.view;
  switch (type) {
    case 'raw_tracepoint':
      again((x) => x.ptr(16, name).u32(24, name.byteLength));
      out.tracepoint = str(info.getU32(24));
      break;
    case 'tracing':
      out.attachType = attachName(info.getU32(16));
      out.targetObjId = info.getU32(20);
      out.targetBtfId = info.getU32(24);
      break;
    case 'cgroup':
      out.cgroupId = v.getBigUint64(16, true);
      out.attachType = attachName(info.getU32(24));
      break;
    case 'xdp':
      out.ifindex = info.getU32(16);
      break;
    case 'tcx':
    case 'netkit':
      out.ifindex = info.getU32(16);
      out.attachType = attachName(info.getU32(20));
      break;
    case 'netns':
      out.attachType = attachName(info.getU32(20));
      break;
    case 'perf_event': {
      const kind = PERF_EVENT_KIND[info.getU32(16)] ?? `unknown(${info.getU32(16)})`;
      out.perfEventType = kind;
      if (kind === 'event') {
        out.config = v.getBigUint64(24, true);
        out.perfType = info.getU32(32);
        out.cookie = v.getBigUint64(40, true);
        break;
      }
      // uprobe/kprobe/tracepoint all start with (name ptr, name_len) at 24/32.
      again((x) => x.ptr(24, name).u32(32, name.byteLength));
      const len = info.getU32(32);
      if (kind === 'tracepoint') {
        out.tracepoint = str(len);
        out.cookie = v.getBigUint64(40, true);
      } else if (kind === 'uprobe' || kind === 'uretprobe') {
        out.file = str(len);
        out.offset = info.getU32(36);
        out.cookie = v.getBigUint64(40, true);
      } else {
        out.tracepoint = str(len);
        out.offset = info.getU32(36);
      }
      break;
    }
  }
  return out;
}

/** BPF_LINK_CREATE: a link fd attaching `progFd` to `target` with `attachType`; `extra` fills the per-type tail. */
export function linkCreate(
  progFd: number,
  target: number,
  attachType: number,
  flags: number,
  what: string,
  hint?: string,
  extra?: (a: Attr) => void,
): number {
  const a = new Attr(64).u32(0, progFd).u32(4, target).u32(8, attachType).u32(12, flags);
  extra?.(a);
  return bpf(BPF_CMD.link_create, a.bytes, what, hint);
}

/** Checks a program's type before any syscall, so a mismatch reads as what it is. */
export function requireProgramType(program: Program, allowed: readonly string[], attachPoint: string): void {
  if (!program || typeof program !== 'object' || typeof (program as { type?: unknown }).type !== 'string')
    throw argError(`${attachPoint}: expected a Program`);
  if (!allowed.includes(program.type)) {
    throw new TypeError(
      `tsbpf: program "${program.name || '(unnamed)'}" is of type ${program.type}, but ${attachPoint} needs a ${allowed.join(' or ')} program`,
    );
  }
}
