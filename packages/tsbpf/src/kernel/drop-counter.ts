/**
 * Loss accounting for ring buffers: a per-CPU counter the BPF program increments whenever a
 * reservation or output fails, emitted by one assembler call, and summed by the reader as `lost`.
 * (libbpf, cilium/ebpf and aya leave this to every user.)
 */
import { asm, type AsmItem, type MapRef, R0, R1, R2, R3, R4, R10, type Reg } from '../pure/asm.js';
import { t } from '../pure/layout.js';
import { BpfMap, type PerCpuArray } from './map.js';
import { argError } from './syscall.js';

let labelSeq = 0;
function freshLabel(what: string): string {
  return `__tsbpf_${what}_${++labelSeq}`;
}

/**
 * A per-CPU array with one u64 slot per CPU counting dropped events. Per-CPU so the BPF side
 * never contends on a cache line; read() sums the CPUs.
 *
 * ```ts
 * using drops = DropCounter.create();
 * const prog = [...asmRingbufReserve({ ring: events, size: 32, dst: R6, dropCounter: drops, onFail: 'out' }), ...];
 * using rb = new RingBuffer(events, cb, { dropCounter: drops });
 * rb.lost; // == drops.read()
 * ```
 */
export class DropCounter {
  readonly map: PerCpuArray<bigint>;

  private constructor(map: PerCpuArray<bigint>) {
    this.map = map;
  }

  /** Creates the counter map (percpu_array, 1 entry, u64). */
  static create(name = 'tsbpf_drops'): DropCounter {
    return new DropCounter(BpfMap.create({ type: 'percpu_array', key: t.u32, value: t.u64, maxEntries: 1, name }));
  }

  /** The map fd (for the assembler's map references). */
  get fd(): number {
    return this.map.fd;
  }

  /** Drops counted so far, summed over CPUs. */
  read(): number {
    return Number(this.map.sum(0) ?? 0);
  }

  /** Sets every CPU's count back to zero. */
  reset(): void {
    this.map.update(0, new Array(this.map.cpus).fill(0n));
  }

  close(): void {
    this.map.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Instructions that add one to the drop counter on the current CPU. Clobbers R0–R5 and the
 * 4-byte stack slot at `R10 + stackOffset` (default -4); callee-saved R6–R9 are kept.
 */
export function asmCountDrop(counter: DropCounter | MapRef, options: { stackOffset?: number } = {}): AsmItem[] {
  const off = options.stackOffset ?? -4;
  if (!Number.isInteger(off) || off > -4 || off < -512 || off % 4 !== 0)
    throw argError(`asmCountDrop stackOffset must be a multiple of 4 in -512..-4, got ${off}`);
  const done = freshLabel('drop_done');
  return [
    asm.stw(R10, off, 0),
    asm.ldMapFd(R1, mapRef(counter)),
    asm.mov64(R2, R10),
    asm.add64(R2, off),
    asm.call('map_lookup_elem'),
    asm.jeq(R0, 0, done),
    asm.mov64(R1, 1),
    asm.atomicAdd64(R0, 0, R1),
    asm.label(done),
  ];
}

/** Options for asmRingbufReserve. */
export interface ReserveOptions {
  /** The ringbuf map. */
  ring: MapRef;
  /** Bytes to reserve (a constant: the verifier requires one). */
  size: number;
  /** Callee-saved register that receives the record pointer (R6–R9). */
  dst: Reg;
  /** Counter to increment when the ring is full; omit to only jump. */
  dropCounter?: DropCounter | MapRef;
  /** Label to jump to when the reservation fails (after counting). */
  onFail: string;
  /** bpf_ringbuf_reserve flags (must be 0 today). */
  flags?: number;
  /** Stack slot for the counter's key (see asmCountDrop). */
  stackOffset?: number;
}

/**
 * `dst = bpf_ringbuf_reserve(ring, size, 0)`; on failure count a drop and jump to `onFail`.
 * Clobbers R0–R5.
 */
export function asmRingbufReserve(o: ReserveOptions): AsmItem[] {
  if (!Number.isInteger(o.size) || o.size <= 0)
    throw argError(`asmRingbufReserve size must be a positive integer, got ${o.size}`);
  if (!o.dst || o.dst.n < 6 || o.dst.n > 9)
    throw argError('asmRingbufReserve dst must be a callee-saved register R6–R9');
  if (typeof o.onFail !== 'string') throw argError('asmRingbufReserve needs an onFail label');
  const ok = freshLabel('reserved');
  return [
    asm.ldMapFd(R1, o.ring),
    asm.mov64(R2, o.size),
    asm.mov64(R3, o.flags ?? 0),
    asm.call('ringbuf_reserve'),
    asm.jne(R0, 0, ok),
    ...(o.dropCounter !== undefined ? asmCountDrop(o.dropCounter, { stackOffset: o.stackOffset }) : []),
    asm.ja(o.onFail),
    asm.label(ok),
    asm.mov64(o.dst, R0),
  ];
}

/** Options for asmRingbufOutput. */
export interface OutputOptions {
  ring: MapRef;
  /** Register holding a pointer to the data (stack or map value). */
  data: Reg;
  /** Length: a constant, or a register bounded for the verifier. */
  size: number | Reg;
  /** bpf_ringbuf_output flags (RINGBUF_FLAG.no_wakeup / force_wakeup). */
  flags?: number;
  dropCounter?: DropCounter | MapRef;
  stackOffset?: number;
}

/** `bpf_ringbuf_output(ring, data, size, flags)`; when it fails, count a drop. Clobbers R0–R5. */
export function asmRingbufOutput(o: OutputOptions): AsmItem[] {
  const done = freshLabel('output_done');
  const items: AsmItem[] = [];
  if (!o.data || !(o.data.n === 2 || (o.data.n >= 6 && o.data.n <= 10)))
    throw argError('asmRingbufOutput data must be in R2 or R6–R10');
  if (typeof o.size !== 'number' && !(o.size.n === 3 || (o.size.n >= 6 && o.size.n <= 9)))
    throw argError('asmRingbufOutput size must be a constant or in R3 or R6–R9');
  if (o.data.n !== 2) items.push(asm.mov64(R2, o.data));
  if (typeof o.size === 'number') items.push(asm.mov64(R3, o.size));
  else if (o.size.n !== 3) items.push(asm.mov64(R3, o.size));
  items.push(asm.mov64(R4, o.flags ?? 0), asm.ldMapFd(R1, o.ring), asm.call('ringbuf_output'));
  if (o.dropCounter !== undefined)
    items.push(asm.jsge(R0, 0, done), ...asmCountDrop(o.dropCounter, { stackOffset: o.stackOffset }), asm.label(done));
  return items;
}

function mapRef(c: DropCounter | MapRef): MapRef {
  return c instanceof DropCounter ? c.map : c;
}
