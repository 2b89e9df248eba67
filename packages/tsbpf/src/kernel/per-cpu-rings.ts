/**
 * Per-CPU ring buffers: one BPF ring buffer per possible CPU, reachable from BPF through an
 * `array_of_maps` indexed by CPU, all read by one `RingBuffer`. A shared ring serialises every
 * producer on the ring's spinlock; with per-CPU rings each CPU reserves in its own ring and never
 * contends (the price: the reader sees per-CPU order, not a global one, and memory is per CPU).
 *
 * ```ts
 * using pc = PerCpuRings.create({ size: 1 << 20 }, (view, off, len) => { ... });
 * const prog = [...asmPerCpuRingReserve({ rings: pc, size: 32, dst: R6, onFail: 'out' }), ...];
 * await pc.reader.poll(100);
 * ```
 */
import { asm, type AsmItem, type MapRef, R0, R1, R2, R3, R10, type Reg } from '../pure/asm.js';
import { asmCountDrop, type DropCounter } from './drop-counter.js';
import { possibleCpus } from './cpus.js';
import { type ArrayOfMaps, BpfMap, type RingBufMap } from './map.js';
import { RingBuffer, type RecordCallback, type RingBufferOptions } from './ring-buffer.js';
import { argError } from './syscall.js';

/** Options of {@link PerCpuRings.create}. */
export interface PerCpuRingsOptions extends RingBufferOptions {
  /** Bytes per CPU ring (a power of two, a multiple of the page size). */
  size: number;
  /** Name prefix of the maps (default `pcpu_ring`). */
  name?: string;
}

/** Ring buffers, one per possible CPU, an array_of_maps over them, and a reader of them all. */
export class PerCpuRings {
  /** `array_of_maps`: CPU number → that CPU's ring. What the BPF program looks up. */
  readonly outer: ArrayOfMaps;
  /** The rings, by CPU number. */
  readonly rings: readonly RingBufMap[];
  /** Reads every ring (each added with the same callback and options). */
  readonly reader: RingBuffer;
  #closed = false;

  private constructor(outer: ArrayOfMaps, rings: RingBufMap[], reader: RingBuffer) {
    this.outer = outer;
    this.rings = rings;
    this.reader = reader;
  }

  /** Creates one ring per possible CPU, the array_of_maps that indexes them, and their reader. */
  static create(options: PerCpuRingsOptions, callback?: RecordCallback): PerCpuRings {
    if (options === null || typeof options !== 'object') throw argError('PerCpuRings.create needs options with a size');
    const { size, name = 'pcpu_ring', ...readerOptions } = options;
    if (!Number.isInteger(size) || size <= 0)
      throw argError(`PerCpuRings size must be a positive integer (bytes per CPU ring), got ${String(size)}`);
    const cpus = possibleCpus();
    const rings: RingBufMap[] = [];
    let outer: ArrayOfMaps | undefined;
    let reader: RingBuffer | undefined;
    try {
      for (let cpu = 0; cpu < cpus; cpu++)
        rings.push(BpfMap.create({ type: 'ringbuf', maxEntries: size, name: `${name}${cpu}`.slice(0, 15) }));
      outer = BpfMap.create({
        type: 'array_of_maps',
        maxEntries: cpus,
        innerMap: { type: 'ringbuf', maxEntries: size },
        name: `${name}s`.slice(0, 15),
      });
      for (let cpu = 0; cpu < cpus; cpu++) outer.set(cpu, rings[cpu]!);
      reader = new RingBuffer(undefined, undefined, { ...readerOptions, dropCounter: undefined });
      // One drop counter serves every ring (it is per-CPU itself): attach it once, or `lost` would count it per ring.
      for (const [cpu, r] of rings.entries()) {
        reader.add(r, callback, {
          dropCounter: cpu === 0 ? readerOptions.dropCounter : undefined,
          priority: readerOptions.priority,
        });
      }
      return new PerCpuRings(outer, rings, reader);
    } catch (e) {
      reader?.close();
      outer?.close();
      for (const r of rings) r.close();
      throw e;
    }
  }

  /** The outer map's fd (for the assembler's map references). */
  get fd(): number {
    return this.outer.fd;
  }

  /** Closes the reader and every map. Safe twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.reader.close();
    this.outer.close();
    for (const r of this.rings) r.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Options of {@link asmPerCpuRingReserve}. */
export interface PerCpuReserveOptions {
  /** The per-CPU rings (or their array_of_maps). */
  rings: PerCpuRings | MapRef;
  /** Bytes to reserve (a constant). */
  size: number;
  /** Callee-saved register (R6–R9) that receives the record pointer. */
  dst: Reg;
  /** Counter to increment when the ring is full. */
  dropCounter?: DropCounter | MapRef;
  /** Label to jump to when no record could be reserved (after counting). */
  onFail: string;
  /** A 4-byte stack slot for the CPU number key (default -4); the drop counter uses it too. */
  stackOffset?: number;
}

let labelSeq = 0;

/**
 * `dst = bpf_ringbuf_reserve(rings[smp_processor_id()], size, 0)`: the current CPU's ring from the
 * array_of_maps; on failure count a drop and jump to `onFail`. Submit or discard the record as usual.
 * Clobbers R0–R5.
 */
export function asmPerCpuRingReserve(o: PerCpuReserveOptions): AsmItem[] {
  if (!Number.isInteger(o.size) || o.size <= 0)
    throw argError(`asmPerCpuRingReserve size must be a positive integer, got ${o.size}`);
  if (!o.dst || o.dst.n < 6 || o.dst.n > 9)
    throw argError('asmPerCpuRingReserve dst must be a callee-saved register R6–R9');
  if (typeof o.onFail !== 'string') throw argError('asmPerCpuRingReserve needs an onFail label');
  const off = o.stackOffset ?? -4;
  if (!Number.isInteger(off) || off > -4 || off < -512 || off % 4 !== 0)
    throw argError(`asmPerCpuRingReserve stackOffset must be a multiple of 4 in -512..-4, got ${off}`);
  const outer = o.rings instanceof PerCpuRings ? o.rings.outer : o.rings;
  const n = ++labelSeq;
  const fail = `__tsbpf_pcpu_fail_${n}`,
    ok = `__tsbpf_pcpu_ok_${n}`;
  return [
    asm.call('get_smp_processor_id'),
    asm.stxw(R10, off, R0),
    asm.ldMapFd(R1, outer),
    asm.mov64(R2, R10),
    asm.add64(R2, off),
    asm.call('map_lookup_elem'),
    asm.jeq(R0, 0, fail),
    asm.mov64(R1, R0),
    asm.mov64(R2, o.size),
    asm.mov64(R3, 0),
    asm.call('ringbuf_reserve'),
    asm.jne(R0, 0, ok),
    asm.label(fail),
    ...(o.dropCounter !== undefined ? asmCountDrop(o.dropCounter, { stackOffset: off }) : []),
    asm.ja(o.onFail),
    asm.label(ok),
    asm.mov64(o.dst, R0),
  ];
}
