/**
 * Graceful overload for ring buffers, decided in the BPF program: when the ring fills up, keep one
 * low-priority event in N — N doubling with every step of fill level — and keep every high-priority
 * event, so a slow reader sees a thinned but representative stream instead of losing whatever happens
 * to arrive while the ring is full. What the policy sampled away is counted apart from what was lost
 * (reservation failed), so delivered + sampledOut + lost = produced, exactly.
 *
 * The state is a per-CPU array of one {@link OVERLOAD_STATE} struct; its first field is the loss counter,
 * so the same map serves as a ring buffer's drop counter (`asmRingbufReserve({ dropCounter: guard })`,
 * `new RingBuffer(ring, cb, { dropCounter: guard })` → `rb.lost`). C programs follow the same contract
 * with `tsbpf/overload.bpf.h` (shipped in this package's `include/` directory): declare the map, call
 * `tsbpf_overload_admit()` before reserving, then `OverloadGuard.fromMap(obj.maps.tsbpf_overload)`.
 */
import { asm, type AsmItem, type MapRef, R0, R1, R2, R3, R4, R10, type Reg } from '../pure/asm.js';
import { t } from '../pure/layout.js';
import { RINGBUF_QUERY } from '../pure/uapi.js';
import { BpfMap, PerCpuArray } from './map.js';
import { argError } from './syscall.js';

/** The per-CPU state struct, as `struct tsbpf_overload_state` in `tsbpf/overload.bpf.h`. */
export const OVERLOAD_STATE = t.struct({
  /** Reservations that failed: the ring was full (first field: also a drop counter). */
  lost: t.u64num,
  /** Low-priority events the policy chose not to send. */
  sampledOut: t.u64num,
  /** Low-priority events seen while sampling (drives the 1-in-N choice). */
  seq: t.u64num,
  /** The sampling shift last applied on this CPU: low-priority events kept 1 in 2^shift. */
  shift: t.u64num,
});

/** When sampling starts and how fast it thins (the defaults suit a reader that drains in bursts). */
export interface OverloadThresholds {
  /** Ring fill level, in percent of its size, where sampling of low-priority events starts (default 50). */
  startPercent?: number;
  /** Every `stepPercent` of fill above the start halves the share kept (default 10). */
  stepPercent?: number;
  /** At most 1 in 2^maxShift kept (default 6: 1 in 64). */
  maxShift?: number;
}

/** The per-CPU state of the overload policy and the numbers a reader reports. */
export class OverloadGuard {
  /** The per-CPU array (1 entry of {@link OVERLOAD_STATE}). */
  readonly map: PerCpuArray<Record<string, number | bigint>>;

  private constructor(map: BpfMap) {
    this.map = PerCpuArray.from(map);
  }

  /** Creates the state map. */
  static create(name = 'tsbpf_overload'): OverloadGuard {
    return new OverloadGuard(
      BpfMap.create({ type: 'percpu_array', key: t.u32, value: OVERLOAD_STATE, maxEntries: 1, name }),
    );
  }

  /** Wraps a C object's `tsbpf_overload` map (a per-CPU array of one `struct tsbpf_overload_state`). */
  static fromMap(map: BpfMap): OverloadGuard {
    if (!(map instanceof BpfMap)) throw argError('OverloadGuard.fromMap needs a BpfMap');
    if (
      map.type !== 'percpu_array' ||
      map.valueSize !== OVERLOAD_STATE.size ||
      map.keySize !== 4 ||
      map.maxEntries < 1
    ) {
      throw argError(
        `OverloadGuard.fromMap: map "${map.name}" must be a percpu_array of u32 → struct tsbpf_overload_state (${OVERLOAD_STATE.size} bytes), got ${map.type} ${map.keySize}/${map.valueSize}`,
      );
    }
    return new OverloadGuard(map);
  }

  /** The map fd (for the assembler's map references). */
  get fd(): number {
    return this.map.fd;
  }

  // A C object's map decodes through its BTF: C field names (sampled_out) and bigint for __u64; tsbpf's own
  // map uses OVERLOAD_STATE (sampledOut, numbers). Accept both.
  #sum(field: 'lost' | 'sampledOut'): number {
    const v = this.map.sumFields(0);
    return Number(v?.[field] ?? v?.[field === 'sampledOut' ? 'sampled_out' : field] ?? 0);
  }

  /** Events lost because the ring was full, summed over CPUs (the drop-counter contract). */
  read(): number {
    return this.#sum('lost');
  }

  /** Low-priority events the policy sampled away, summed over CPUs. */
  get sampledOut(): number {
    return this.#sum('sampledOut');
  }

  /** The current sampling of low-priority events: kept 1 in `keepOneIn` (1 = everything), the thinnest over CPUs. */
  get keepOneIn(): number {
    let shift = 0;
    const perCpu = this.map.lookup(0);
    for (const v of perCpu ?? []) if (Number(v.shift) > shift) shift = Number(v.shift);
    return 2 ** shift;
  }

  /** Sets every CPU's counters back to zero. */
  reset(): void {
    const current = this.map.lookup(0)?.[0] ?? {};
    const zero = Object.fromEntries(Object.entries(current).map(([k, v]) => [k, typeof v === 'bigint' ? 0n : 0]));
    this.map.update(0, new Array(this.map.cpus).fill(zero));
  }

  close(): void {
    this.map.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

let labelSeq = 0;
const freshLabel = (what: string) => `__tsbpf_overload_${what}_${++labelSeq}`;

/** Options of {@link asmOverloadGate}. */
export interface OverloadGateOptions extends OverloadThresholds {
  /** The policy state (or its map). */
  guard: OverloadGuard | MapRef;
  /** The ring buffer map the event will be reserved in. */
  ring: MapRef;
  /** The ring's size in bytes (its max_entries). */
  ringSize: number;
  /**
   * The event's priority: `'high'` (always sent: no code is emitted), `'low'` (sampled under load), or a
   * register holding 0 for high and anything else for low.
   */
  priority: 'high' | 'low' | Reg;
  /** Label to jump to when the event is sampled away (already counted). */
  onSkip: string;
  /** An 8-byte-aligned stack slot the gate may use (default -8; also uses the 4 bytes below it). */
  stackOffset?: number;
}

/**
 * The policy's decision, placed before `asmRingbufReserve`: for a low-priority event, reads the ring's
 * fill level (`bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA)`); above `startPercent` it keeps 1 event in
 * 2^k, k = 1 + (fill − start) / step (at most maxShift), counts the others in `sampledOut` and jumps to
 * `onSkip` for them. Clobbers R0–R5 and 12 bytes of stack at `stackOffset`; R6–R9 are kept.
 */
export function asmOverloadGate(o: OverloadGateOptions): AsmItem[] {
  const start = o.startPercent ?? 50,
    step = o.stepPercent ?? 10,
    maxShift = o.maxShift ?? 6;
  const off = o.stackOffset ?? -8;
  if (!Number.isInteger(o.ringSize) || o.ringSize <= 0)
    throw argError(`asmOverloadGate ringSize must be the ring's size in bytes, got ${o.ringSize}`);
  if (!Number.isInteger(start) || start < 0 || start > 100)
    throw argError(`asmOverloadGate startPercent must be 0..100, got ${start}`);
  if (!Number.isInteger(step) || step < 1 || step > 100)
    throw argError(`asmOverloadGate stepPercent must be 1..100, got ${step}`);
  if (!Number.isInteger(maxShift) || maxShift < 1 || maxShift > 31)
    throw argError(`asmOverloadGate maxShift must be 1..31, got ${maxShift}`);
  if (!Number.isInteger(off) || off % 8 !== 0 || off > -8 || off < -504)
    throw argError(`asmOverloadGate stackOffset must be a multiple of 8 in -504..-8, got ${off}`);
  if (typeof o.onSkip !== 'string') throw argError('asmOverloadGate needs an onSkip label');
  if (o.priority === 'high') return [];
  const keep = freshLabel('keep');
  const decide = freshLabel('decide');
  const guard = o.guard instanceof OverloadGuard ? o.guard.map : o.guard;
  const items: AsmItem[] = [];
  if (o.priority !== 'low') items.push(asm.jeq(o.priority, 0, keep));
  items.push(
    // fill% = avail * 100 / size
    asm.ldMapFd(R1, o.ring),
    asm.mov64(R2, RINGBUF_QUERY.avail_data),
    asm.call('ringbuf_query'),
    asm.mul64(R0, 100),
    asm.div64(R0, o.ringSize),
    asm.mov64(R1, 0), //                      shift 0 below the start
    asm.jlt(R0, start, decide),
    asm.sub64(R0, start),
    asm.div64(R0, step),
    asm.add64(R0, 1),
    asm.mov64(R1, R0),
    asm.jle(R1, maxShift, decide),
    asm.mov64(R1, maxShift),
    asm.label(decide),
    asm.stxdw(R10, off, R1), //               the shift, across the lookup
    asm.stw(R10, off - 4, 0),
    asm.ldMapFd(R1, guard),
    asm.mov64(R2, R10),
    asm.add64(R2, off - 4),
    asm.call('map_lookup_elem'),
    asm.jeq(R0, 0, keep),
    asm.ldxdw(R1, R10, off),
    asm.stxdw(R0, OVERLOAD_STATE.offsetOf('shift'), R1),
    asm.jeq(R1, 0, keep), //                  not sampling: send
    asm.ldxdw(R2, R0, OVERLOAD_STATE.offsetOf('seq')),
    asm.add64(R2, 1),
    asm.stxdw(R0, OVERLOAD_STATE.offsetOf('seq'), R2),
    asm.mov64(R3, 1),
    asm.lsh64(R3, R1),
    asm.sub64(R3, 1), //                      mask = 2^shift − 1
    asm.and64(R2, R3),
    asm.jeq(R2, 0, keep), //                  1 in 2^shift is sent
    asm.ldxdw(R4, R0, OVERLOAD_STATE.offsetOf('sampledOut')),
    asm.add64(R4, 1),
    asm.stxdw(R0, OVERLOAD_STATE.offsetOf('sampledOut'), R4),
    asm.ja(o.onSkip),
    asm.label(keep),
  );
  return items;
}
