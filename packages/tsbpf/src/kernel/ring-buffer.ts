/**
 * RingBuffer: the BPF_MAP_TYPE_RINGBUF reader. Zero-copy callbacks over the kernel's own pages,
 * copy reads, waiting in Node's event loop (fd readiness, a flush deadline, a latency budget),
 * several rings drained fairly, and loss reported from a BPF-side drop counter.
 *
 * Memory: the consumer page is mapped read-write, the producer page plus the data area (mapped
 * twice back to back by the kernel, so a record that wraps the end is contiguous) read-only.
 * Record header: a 32-bit length word (BUSY bit 31 = not yet committed, DISCARD bit 30) and a
 * 32-bit page offset; records are 8-byte aligned.
 */
import { RINGBUF_HDR } from '../pure/uapi.js';
import type { DropCounter } from './drop-counter.js';
import type { OverloadGuard } from './overload.js';
import { BpfError, ClosedError } from './errors.js';
import { checkWaitOptions, FdWaiter, type WaitOptions, type WaitStats } from './fd-waiter.js';
import { drainInBatches } from './reader-batches.js';
import { BpfMap, PerCpuArray } from './map.js';
import { MAP_SHARED, native, PROT } from './native.js';
import { argError } from './syscall.js';
import { RecordView } from './record-view.js';

export { RecordView } from './record-view.js';
export type { WaitOptions, WaitStats } from './fd-waiter.js';

const BUSY = RINGBUF_HDR.busy | 0; // bit 31: the length word is negative as an int32
const DISCARD = RINGBUF_HDR.discard;
const LEN_MASK = ~(RINGBUF_HDR.busy | RINGBUF_HDR.discard);
const HDR = RINGBUF_HDR.size;
/** Consumer-position stores happen at least this often (bytes), so producers get space back while a long drain runs. */
const MAX_BATCH_BYTES = 1 << 20;
/**
 * Header loads need acquire ordering. x86 gives it to every load, and V8 keeps typed-array loads
 * in program order, so a plain load suffices there; elsewhere use Atomics.load (which V8 does not
 * inline for non-shared buffers: measured 2x slower drains on x64).
 */
const ACQUIRE_LOADS = process.arch !== 'x64' && process.arch !== 'ia32';

/**
 * The zero-copy callback: `view` is a read-only DataView over ring memory, the record is
 * `length` bytes at `offset` (use `view.getUint32(offset + 4, true)` etc.). Valid only during the
 * call. Return `false` to stop the drain after this record (the rest stay in the ring).
 */
export type RecordCallback = (view: RecordView, offset: number, length: number) => unknown;

/** Options for one ring. */
export interface RingOptions {
  /**
   * The per-CPU drop counter the BPF side increments when a reservation fails; summed into `lost`. An
   * OverloadGuard (the overload policy's state) also reports `sampledOut` and `keepOneIn`.
   */
  dropCounter?: DropCounter | OverloadGuard | BpfMap;
  /**
   * Drain order among several rings (default 0): every drain empties the rings of a higher priority
   * first, then the next level, sharing the drain's record budget (`consume`'s `maxRecords`). Rings of
   * the same priority are visited round-robin in bounded batches.
   */
  priority?: number;
}

/** Options for a RingBuffer. */
export interface RingBufferOptions extends WaitOptions, RingOptions {}

// The consumer position is published with one 64-bit store. JS has no 64-bit integer store
// without BigInt, so the two 32-bit halves are assembled in a scratch buffer and moved as one
// float64 (a plain 8-byte load and store on x86-64 and arm64; no arithmetic touches the value).
const scratchF64 = new Float64Array(1);
const scratchU32 = new Uint32Array(scratchF64.buffer);
const scratchI64 = new BigUint64Array(scratchF64.buffer);
const FLOAT_MOVE_EXACT = (() => {
  // Positions are subnormal bit patterns as doubles; make sure moving them keeps every bit.
  const a = new Float64Array(1);
  const b = new Uint32Array(a.buffer);
  for (const [lo, hi] of [
    [0x12345678, 0],
    [8, 0],
    [0xfffffff8, 1],
    [0x40, 0x000fffff],
  ] as const) {
    scratchU32[0] = lo;
    scratchU32[1] = hi;
    a[0] = scratchF64[0]!;
    if (b[0] !== lo || b[1] !== hi) return false;
  }
  return true;
})();

/** Ring ids make each ring's generated code distinct (see makeRingCode). */
let nextRingId = 0;

/** One ring's generated hot paths. */
interface RingCode {
  /** Drains with `cb` (at most `maxRecords`); returns the records delivered. Sets ring.stopped. */
  drain(cb: RecordCallback, maxRecords: number): number;
  /** Copies the next record into `buffer`; returns its length or -1. */
  readInto(buffer: Uint8Array): number;
}

/** One mapped ring and its callback. Internal. */
class Ring {
  readonly index: number;
  readonly map: BpfMap;
  readonly size: number;
  readonly mask: number;
  /** Where the data area starts in `data` (after the producer page). */
  readonly base: number;
  consumer: ArrayBuffer;
  data: ArrayBuffer;
  readonly cons32: Uint32Array;
  readonly consF64: Float64Array;
  readonly consI64: BigUint64Array;
  readonly prod32: Uint32Array;
  readonly hdr: Int32Array;
  readonly u8: Uint8Array;
  readonly view: RecordView;
  readonly dropCounter: DropCounter | OverloadGuard | BpfMap | undefined;
  /** Drain order among rings: higher first. */
  priority = 0;
  cb: RecordCallback | undefined;
  /** Whether the last drain was stopped by its callback (returned false). */
  stopped = false;
  /** Set by unmap(): a drain that finds the ring released under it (zero pages, or detached) ends quietly. */
  unmapped = false;
  readonly code: RingCode;

  constructor(
    index: number,
    map: BpfMap,
    cb: RecordCallback | undefined,
    dropCounter: DropCounter | OverloadGuard | BpfMap | undefined,
  ) {
    this.index = index;
    this.map = map;
    this.cb = cb;
    this.dropCounter = dropCounter;
    this.size = map.maxEntries;
    this.mask = this.size - 1;
    const pg = native.pageSize;
    this.base = pg;
    const what = `ringbuf map "${map.name}"`;
    const c = native.mmap(map.fd, pg, PROT.read | PROT.write, MAP_SHARED, 0);
    if (typeof c === 'number') throw new BpfError(-c, { syscall: 'mmap', command: 'consumer page', object: what });
    const d = native.mmap(map.fd, pg + 2 * this.size, PROT.read, MAP_SHARED, pg);
    if (typeof d === 'number') {
      native.unmap(c);
      throw new BpfError(-d, { syscall: 'mmap', command: 'producer page and data', object: what });
    }
    this.consumer = c;
    this.data = d;
    this.cons32 = new Uint32Array(c, 0, 2);
    this.consF64 = new Float64Array(c, 0, 1);
    this.consI64 = new BigUint64Array(c, 0, 1);
    this.prod32 = new Uint32Array(d, 0, 2);
    this.hdr = new Int32Array(d);
    this.u8 = new Uint8Array(d);
    this.view = new RecordView(d);
    this.code = makeRingCode(this);
  }

  /** Publishes the consumer position (lo, hi) with one 64-bit store. */
  publish(lo: number, hi: number): void {
    // Same high half: the low half alone is the same 64-bit value, stored atomically (see ringCodeSource).
    if (hi === this.cons32[1]) {
      this.cons32[0] = lo;
      return;
    }
    scratchU32[0] = lo;
    scratchU32[1] = hi;
    if (FLOAT_MOVE_EXACT) this.consF64[0] = scratchF64[0]!;
    else this.consI64[0] = scratchI64[0]!;
  }

  /** Bytes between the consumer and producer positions. */
  available(): number {
    return ((ACQUIRE_LOADS ? Atomics.load(this.prod32, 0) : this.prod32[0]!) - this.cons32[0]!) >>> 0;
  }

  /**
   * Advances past discarded records; returns the header's int32 index of the next committed
   * record, or -1 when there is none (empty, or the next one is still busy).
   */
  nextRecord(): number {
    const hdr = this.hdr,
      mask = this.mask,
      base = this.base;
    const start = this.cons32[0]! | 0;
    const prod = (ACQUIRE_LOADS ? Atomics.load(this.prod32, 0) : this.prod32[0]!) | 0;
    let c = start;
    let found = -1;
    while (c !== prod) {
      const at = (base + (c & mask)) >> 2;
      const len = ACQUIRE_LOADS ? Atomics.load(hdr, at) : hdr[at]!;
      if (len & BUSY) break;
      if ((len & DISCARD) === 0) {
        found = at;
        break;
      }
      c = (c + (((len & LEN_MASK) + HDR + 7) & ~7)) | 0;
    }
    if (c !== start) this.publish(c, this.cons32[1]! + (c >>> 0 < start >>> 0 ? 1 : 0));
    return found;
  }

  /** Consumes the record whose header is at int32 index `at` (from nextRecord). */
  advance(at: number): void {
    const len = this.hdr[at]! & LEN_MASK;
    const start = this.cons32[0]!;
    const c = (start + ((len + HDR + 7) & ~7)) >>> 0;
    this.publish(c, this.cons32[1]! + (c < start ? 1 : 0));
  }

  /**
   * Releases both mappings (native.unmap): zero pages replace them in place, so nothing over the
   * ArrayBuffers reaches the kernel's memory from then on, and the buffers stay attached (a
   * detach would slow every typed array access in the process; see native.unmap). A drain
   * running when a callback closes the reader reads an all-zero header next and ends there.
   */
  unmap(): void {
    this.unmapped = true;
    native.unmap(this.data);
    native.unmap(this.consumer);
  }
}

/*
 * The hot paths are generated per ring (new Function, with a unique name in the source so V8
 * gives each ring its own SharedFunctionInfo and feedback): the callback call site inside a
 * ring's drain then only ever sees that ring's callback and stays monomorphic, so V8 inlines the
 * callback into the loop, even when many readers with different callbacks live in one process.
 * Constants (mask, data offset, header bits) are baked into the source.
 *
 * Safety without a per-record flag check: close() replaces the ring's mappings by zero pages
 * (native.unmap), so a header load after a callback closed the reader reads 0, which the fast
 * path's one compare already sends aside; the slow branch then sees `ring.unmapped` and ends the
 * drain. Consumer position stores land in the replacement page. readInto never runs on a closed
 * reader (close() swaps it for a function that throws). Should the addon have detached the
 * buffers instead, a header load throws and the drain catches that and ends.
 */
function ringCodeSource(id: number, mask: number, base: number, size: number): string {
  const load = (arr: string, i: string): string => (ACQUIRE_LOADS ? `Atomics.load(${arr}, ${i})` : `${arr}[${i}]`);
  // Header words in the drain: an int32 always (no undefined to test for), and a TypeError once
  // close() has detached the ring. The DataView load also needs no index shift.
  const hdrLoad = (off: string): string =>
    ACQUIRE_LOADS ? `Atomics.load(hdr, ${off} >> 2)` : `view.getInt32(${off}, true)`;
  // While the high half stays the same (all but once per 4 GiB consumed), storing the low half
  // alone publishes the same 64-bit value atomically, and avoids assembling it in scratch memory:
  // two 4-byte stores read back as one 8-byte load defeat store-to-load forwarding (a stall per
  // readInto). When the high half changes, the whole value goes out in one 64-bit store.
  const publish = (lo: string, hi: string): string =>
    `if (${hi} === cons32[1]) cons32[0] = ${lo}; else publishWide(${lo}, ${hi});`;
  // Rarely run code (the wide store, a batch limit, the 32-bit wrap) is written so that V8 has no
  // arithmetic without type feedback on those paths: such an operation deoptimises the drain the
  // first time it runs (say, a long drain after short ones), and the reoptimised on-stack code
  // drains ~1.5x slower until the next call.
  // Two drain loops: without a record limit (consume() of one ring: the loop only compares
  // positions) and with one (fair shares across rings, maxRecords). Fewer live values in the hot
  // loop measurably help V8 here.
  // Delivering one committed record of `len` bytes that takes `step` bytes of ring: the fast path's
  // and the empty record's (the same statements, so the two cannot drift apart).
  const deliver = (len: string, step: string, limited: boolean, indent: string): string => `c = (c + ${step}) | 0;
${indent}n = (n + 1) | 0;
${indent}inCb = true;
${indent}if (cb(view, off + ${HDR}, ${len}) === false) { stopped = true; done = true; break; }
${indent}inCb = false;${
    limited
      ? `
${indent}if (n >= limit) { done = true; break; }`
      : ''
  }`;
  const drainLoop = (name: string, limited: boolean): string => `function ${name}(cb${limited ? ', limit' : ''}) {
  let c = cons32[0] | 0;
  let hi = cons32[1] >>> 0;
  let published = c;
  let n = 0;
  let stopped = false;
  let inCb = false;
  try {
    for (;;) {
      const prod = ${load('prod32', '0')} | 0;
      if (c === prod) break;
      const batchStart = c;
      // Publish at least every ${MAX_BATCH_BYTES} bytes so producers get space back during long
      // drains: the loop runs to the first record boundary at or past \`stop\` (wrap-safe compare).
      const left = (prod - c) >>> 0;
      const stop = (c + (left > ${MAX_BATCH_BYTES} ? ${MAX_BATCH_BYTES} : left)) | 0;
      let done = false;
      do {
        const off = ${base} + (c & ${mask});
        const len = ${hdrLoad('off')};
        // One unsigned compare passes committed non-empty records and sends BUSY, DISCARD and
        // empty ones aside (an all-zero header is also what a closed ring reads: see unmap()).
        if (((len - 1) >>> 0) < ${DISCARD - 1}) {
          ${deliver('len', `((len + ${HDR + 7}) & -8)`, limited, '          ')}
        } else {
          // The first BUSY, discarded or empty record of a stream deoptimises the drain once
          // (these operations have no type feedback until then): a recompile per reader, traded
          // for keeping a second compare off every record (6-8% of drain throughput, measured).
          if (len < 0) { done = true; break; } // BUSY: not committed yet, stop here
          if (len === 0) {
            // A callback closed the reader: the ring now reads zeros. End here.
            if (ring.unmapped) { done = true; break; }
            // A committed empty record (bpf_ringbuf_output of 0 bytes).
            ${deliver('0', String((HDR + 7) & -8), limited, '            ')}
          } else c = (c + (((len & ${0x3fffffff}) + ${HDR + 7}) & -8)) | 0; // discarded: skip
        }
      } while (((c - stop) | 0) < 0);
      hi = (hi + ((c >>> 0) < (batchStart >>> 0) ? 1 : 0)) >>> 0;
      ${publish('c', 'hi')}
      published = c;
      if (done) break;
    }
  } catch (e) {
    // A callback closed the reader and the ring was detached (an addon that could not map zero
    // pages over it): the next header load throws, and the drain ends there. Errors from
    // callbacks propagate.
    if (inCb || !ring.unmapped) throw e;
  } finally {
    // Also when cb throws: the record it threw on counts as consumed.
    if (published !== c) {
      hi = (hi + ((c >>> 0) < (published >>> 0) ? 1 : 0)) >>> 0;
      ${publish('c', 'hi')}
    }
    ring.stopped = stopped;
  }
  return n;
}`;
  return `'use strict';
// tsbpf ring ${id}
// Mutable state as var (a let in a closure pays a TDZ check per read) and the numbers in an
// Int32Array (context slots hold tagged values: a Smi check and untagging per read). Over 64
// bytes, so its memory is off V8's heap: optimised code then uses its address as a constant.
const st = new Int32Array(32); // [0]: the producer position last read (readInto), [1]: the largest record the fast path copies
var lastBuffer = null;
var lastDst32 = null;
/** The consumer position in one 64-bit store, for when its high half changes. */
function publishWide(lo, hi) {
  scratchU32[0] = lo;
  scratchU32[1] = hi;
  ${FLOAT_MOVE_EXACT ? 'consF64[0] = scratchF64[0];' : 'consI64[0] = scratchI64[0];'}
}
function drain_ring_${id}(cb, maxRecords) {
  return maxRecords >= ${0x7fffffff} ? drainAll(cb) : drainSome(cb, maxRecords | 0);
}
${drainLoop('drainAll', false)}
${drainLoop('drainSome', true)}
// The copy path keeps its common case small enough (in bytecode) for V8 to inline it, and the
// caller's RingBuffer.readInto, into the caller's loop: a call per record costs more than the
// copy. A new buffer goes through useBuffer, which also checks its type.
function useBuffer(buffer) {
  if (!(buffer instanceof Uint8Array)) throw new TypeError('tsbpf: readInto expects a Uint8Array');
  lastBuffer = buffer;
  const aligned = (buffer.byteOffset & 3) === 0;
  lastDst32 = aligned ? new Int32Array(buffer.buffer, buffer.byteOffset, buffer.length >> 2) : null;
  st[1] = aligned ? Math.min(buffer.length, 256) : -1;
}
function publishFrom(start, c) {
  if ((c >>> 0) >= (start >>> 0)) cons32[0] = c; else publishWide(c, (cons32[1] + 1) >>> 0);
}
function copyOut(buffer, start, c, next, at, size) {
  if (size > buffer.length) {
    if (c !== start) publishFrom(start, c);
    throw new RangeError('tsbpf: readInto buffer holds ' + buffer.length + ' bytes; the next record has ' + size);
  }
  const src = at + 2;
  const dst = lastDst32;
  if (size > 256) buffer.set(u8.subarray(src << 2, (src << 2) + size));
  else if (dst !== null) {
    const w = size >> 2;
    let i = 0;
    for (; i < w - 3; i += 4) { const k = src + i; dst[i] = hdr[k]; dst[i + 1] = hdr[k + 1]; dst[i + 2] = hdr[k + 2]; dst[i + 3] = hdr[k + 3]; }
    for (; i < w; i++) dst[i] = hdr[src + i];
    for (i <<= 2; i < size; i++) buffer[i] = u8[(src << 2) + i];
  } else for (let i = 0; i < size; i++) buffer[i] = u8[(src << 2) + i];
  publishFrom(start, next);
  return size;
}
/**
 * readInto, the common case only: a committed record of whole words that fits the buffer, with
 * the producer position already known to be ahead. Everything else goes to readSlow. Small in
 * bytecode so that V8 inlines it into the caller's loop next to the caller's own code.
 */
function readInto_ring_${id}(buffer) {
  if (buffer !== lastBuffer) useBuffer(buffer);
  const c = cons32[0] | 0;
  // Stale when consume() (or another reader) moved the consumer past the last producer position read.
  if (c === st[0] || ((st[0] - c) >>> 0) > ${size}) return readSlow(buffer);
  const at = (${base} + (c & ${mask})) >> 2;
  const len = ${load('hdr', 'at')};
  // Not (committed, whole words, fits): BUSY or DISCARD bits, a detached ring (undefined), ...
  if (!(len >= 0 && len <= st[1]) || (len & 3) !== 0) return readSlow(buffer);
  // Four words per iteration: V8 re-checks dst's map and length after every loop back-edge.
  const dst = lastDst32, w = len >> 2, src = at + 2;
  let i = 0;
  for (; i < w - 3; i += 4) { const k = src + i; dst[i] = hdr[k]; dst[i + 1] = hdr[k + 1]; dst[i + 2] = hdr[k + 2]; dst[i + 3] = hdr[k + 3]; }
  for (; i < w; i++) dst[i] = hdr[src + i];
  publishFrom(c, (c + ((len + ${HDR + 7}) & -8)) | 0);
  return len;
}
/** readInto, every case: refreshes the producer position, skips discarded records, copies. */
function readSlow(buffer) {
  const start = cons32[0] | 0;
  let c = start;
  if (((st[0] - c) >>> 0) > ${size}) st[0] = c;
  for (;;) {
    if (c === st[0]) {
      const prod = st[0] = ${load('prod32', '0')} | 0;
      if (c === prod) break;
    }
    const at = (${base} + (c & ${mask})) >> 2;
    const len = ${load('hdr', 'at')};
    if (!(len >= 0)) break; // BUSY, or a detached ring (undefined)
    const next = (c + (((len & ${0x3fffffff}) + ${HDR + 7}) & -8)) | 0;
    if (len < ${DISCARD}) return copyOut(buffer, start, c, next, at, len);
    c = next;
  }
  if (c !== start) publishFrom(start, c);
  return -1;
}
return { drain: drain_ring_${id}, readInto: readInto_ring_${id} };
`;
}

const CODE_PARAMS = [
  'ring',
  'cons32',
  'consF64',
  'consI64',
  'prod32',
  'hdr',
  'u8',
  'view',
  'scratchU32',
  'scratchF64',
  'scratchI64',
] as const;

function makeRingCode(r: Ring): RingCode {
  const src = ringCodeSource(nextRingId++, r.mask, r.base, r.size);
  let factory: (...args: unknown[]) => RingCode;
  try {
    factory = new Function(...CODE_PARAMS, src) as typeof factory;
  } catch {
    // Code generation from strings disabled (--disallow-code-generation-from-strings): the same
    // logic as a closure. Correct, but closures share V8 feedback, so the callback site is shared.
    return closureRingCode(r);
  }
  return factory(r, r.cons32, r.consF64, r.consI64, r.prod32, r.hdr, r.u8, r.view, scratchU32, scratchF64, scratchI64);
}

/** The generated code's logic as plain closures (fallback when new Function is unavailable). */
function closureRingCode(r: Ring): RingCode {
  const { cons32, prod32, hdr, u8, view, mask, base, size: ringSize } = r;
  let prodCache = 0;
  let lastBuffer: Uint8Array | null = null;
  let lastDst32: Int32Array | null = null;
  const pub = (lo: number, hi: number): void => r.publish(lo, hi);
  return {
    drain(cb, maxRecords) {
      let c = cons32[0]! | 0;
      let hi = cons32[1]! >>> 0;
      let published = c;
      let n = 0;
      let stopped = false;
      const limit = maxRecords < 0x7fffffff ? maxRecords | 0 : 0x7fffffff;
      try {
        for (;;) {
          let left = (((ACQUIRE_LOADS ? Atomics.load(prod32, 0) : prod32[0]!) | 0) - c) >>> 0;
          if (left === 0) break;
          if (left > MAX_BATCH_BYTES) left = MAX_BATCH_BYTES;
          const batchStart = c;
          let done = false;
          do {
            const off = base + (c & mask);
            const len = ACQUIRE_LOADS ? Atomics.load(hdr, off >> 2) : hdr[off >> 2];
            if (!(len! >= 0)) {
              done = true;
              break;
            }
            if (len === 0 && r.unmapped) {
              done = true;
              break;
            } // a callback closed the reader: zeros from here
            const size = len! & LEN_MASK;
            const step = (size + HDR + 7) & -8;
            c = (c + step) | 0;
            left -= step;
            if ((len! & DISCARD) === 0) {
              n++;
              if (cb(view, off + HDR, size) === false) {
                stopped = true;
                done = true;
                break;
              }
              if (n >= limit) {
                done = true;
                break;
              }
            }
          } while (left > 0);
          if (c >>> 0 < batchStart >>> 0) hi = (hi + 1) >>> 0;
          pub(c, hi);
          published = c;
          if (done) break;
        }
      } finally {
        if (published !== c) {
          if (c >>> 0 < published >>> 0) hi = (hi + 1) >>> 0;
          pub(c, hi);
        }
        r.stopped = stopped;
      }
      return n;
    },
    readInto(buffer) {
      if (buffer !== lastBuffer) {
        if (!(buffer instanceof Uint8Array)) throw new TypeError('tsbpf: readInto expects a Uint8Array');
        lastBuffer = buffer;
        lastDst32 =
          (buffer.byteOffset & 3) === 0 ? new Int32Array(buffer.buffer, buffer.byteOffset, buffer.length >> 2) : null;
      }
      const start = cons32[0]! | 0;
      let c = start;
      let prod = prodCache;
      if ((prod - c) >>> 0 > ringSize) prod = c;
      const publishTo = (to: number): void => pub(to, (cons32[1]! + (to >>> 0 < start >>> 0 ? 1 : 0)) >>> 0);
      for (;;) {
        if (c === prod) {
          prod = prodCache = (ACQUIRE_LOADS ? Atomics.load(prod32, 0) : prod32[0]!) | 0;
          if (c === prod) break;
        }
        const at = (base + (c & mask)) >> 2;
        const len = ACQUIRE_LOADS ? Atomics.load(hdr, at) : hdr[at];
        if (!(len! >= 0)) break;
        const size = len! & LEN_MASK;
        const step = (size + HDR + 7) & -8;
        if ((len! & DISCARD) === 0) {
          if (size > buffer.length) {
            if (c !== start) publishTo(c);
            throw new RangeError(`tsbpf: readInto buffer holds ${buffer.length} bytes; the next record has ${size}`);
          }
          const src = at + 2;
          const words = size >> 2;
          if (lastDst32 !== null && words <= 32) {
            for (let i = 0; i < words; i++) lastDst32[i] = hdr[src + i]!;
            for (let i = words << 2; i < size; i++) buffer[i] = u8[(src << 2) + i]!;
          } else {
            buffer.set(u8.subarray(src << 2, (src << 2) + size));
          }
          publishTo((c + step) | 0);
          return size;
        }
        c = (c + step) | 0;
      }
      if (c !== start) publishTo(c);
      return -1;
    },
  };
}

/**
 * Reads one or more BPF ring buffers (BPF_MAP_TYPE_RINGBUF).
 *
 * ```ts
 * using rb = new RingBuffer(events, (view, off, len) => { total += view.getUint32(off, true); });
 * rb.consume();                  // drain now (non-blocking), zero-copy
 * await rb.poll(100);            // wait up to 100 ms for data, then drain
 * for await (const rec of rb) {} // copies, driven by fd readiness
 * ```
 */
export class RingBuffer implements AsyncIterable<Uint8Array> {
  readonly #rings: Ring[] = [];
  readonly #waiter: FdWaiter;
  readonly #ownedMaps: BpfMap[] = [];
  readonly #state = { closed: false };
  /** readInto's implementation: the ring's own generated code while there is one ring. */
  #readInto: (buffer: Uint8Array) => number = (buffer) => this.#readIntoRings(buffer);
  /** The rings grouped by priority, highest first (see RingOptions.priority). */
  #levels: Ring[][] = [];
  /** Round-robin start per priority level. */
  #levelNext: number[] = [];
  #what = 'ring buffer reader';

  /**
   * A reader over `map` (a ringbuf map) delivering to `callback`; more rings with add().
   * Throws ClosedError when the map is closed.
   */
  constructor(map?: BpfMap, callback?: RecordCallback, options: RingBufferOptions = {}) {
    if (options === null || typeof options !== 'object') throw argError('RingBuffer options must be an object');
    const waitOpts = checkWaitOptions(options, 'RingBuffer');
    this.#waiter = new FdWaiter(this.#what, () => this.availableBytes() > 0, waitOpts);
    if (map !== undefined) this.add(map, callback, options);
  }

  /**
   * Adds a ring with its own callback (libbpf's ring_buffer__add). The reader opens its own fd
   * for the map, so closing the caller's BpfMap later does not affect it.
   */
  add(map: BpfMap, callback?: RecordCallback, options: RingOptions = {}): this {
    this.#check();
    if (!(map instanceof BpfMap)) throw argError('RingBuffer.add expects a BpfMap of type ringbuf');
    if (map.type !== 'ringbuf')
      throw argError(`RingBuffer reads ringbuf maps, not ${map.type} (use PerfBuffer for perf_event_array)`);
    if (callback !== undefined && typeof callback !== 'function')
      throw argError('RingBuffer callback must be a function');
    const priority = options.priority ?? 0;
    if (typeof priority !== 'number' || !Number.isFinite(priority))
      throw argError(`RingBuffer ring priority must be a finite number, got ${String(options.priority)}`);
    const own = ownFd(map); // throws ClosedError for a closed map
    let ring: Ring;
    try {
      ring = new Ring(this.#rings.length, own, callback, options.dropCounter);
    } catch (e) {
      if (own !== map) own.close();
      throw e;
    }
    if (own !== map) this.#ownedMaps.push(own);
    ring.priority = priority;
    this.#rings.push(ring);
    this.#regroup();
    this.#readInto = this.#rings.length === 1 ? ring.code.readInto : (buffer) => this.#readIntoRings(buffer);
    this.#waiter.add(own.fd);
    return this;
  }

  /** Groups the rings by priority, highest first, keeping add order within a level. */
  #regroup(): void {
    const byPriority = new Map<number, Ring[]>();
    for (const r of this.#rings) {
      const level = byPriority.get(r.priority);
      if (level) level.push(r);
      else byPriority.set(r.priority, [r]);
    }
    this.#levels = [...byPriority.entries()].sort((a, b) => b[0] - a[0]).map(([, rings]) => rings);
    this.#levelNext = this.#levels.map(() => 0);
  }

  /** Number of rings. */
  get ringCount(): number {
    return this.#rings.length;
  }

  get closed(): boolean {
    return this.#state.closed;
  }

  /** Readiness counters (wake-ups, flushes, budget drains). */
  get stats(): Readonly<WaitStats> {
    return this.#waiter.stats;
  }

  /**
   * Drains every ring now without waiting, zero-copy: each record goes to `callback` (or the
   * ring's own). Rings are visited round-robin in batches so a busy ring cannot starve the others.
   * Returns the records delivered. A callback returning false stops the drain.
   */
  consume(callback?: RecordCallback, maxRecords = Infinity): number {
    if (this.#state.closed) throw new ClosedError(this.#what);
    if (callback !== undefined && typeof callback !== 'function') throw argError('consume callback must be a function');
    const rings = this.#rings;
    if (rings.length === 1 && maxRecords === Infinity) {
      // Fast path: one ring, one drain.
      const r = rings[0]!;
      const cb = callback ?? r.cb;
      if (!cb) throw argError('consume needs a callback (none was given to the constructor or add)');
      const n = r.code.drain(cb, Infinity);
      this.#waiter.drained(n);
      return n;
    }
    let total = 0;
    try {
      // Priority levels, highest first, under one budget. Within a level: rounds of bounded batches per
      // ring until all are empty (or stopped / maxRecords), so a busy ring cannot starve its peers.
      const levels = this.#levels;
      for (let lv = 0; lv < levels.length; lv++) {
        const level = levels[lv]!;
        const k = level.length;
        for (;;) {
          let round = 0;
          const first = this.#levelNext[lv]!;
          this.#levelNext[lv] = (first + 1) % k;
          for (let j = 0; j < k; j++) {
            const r = level[(first + j) % k]!;
            const cb = callback ?? r.cb;
            if (!cb) throw argError(`consume needs a callback for ring ${r.index} (none was given to add)`);
            const left = maxRecords - total;
            if (left <= 0) return total;
            // A bounded share per ring per round: a busy ring cannot starve the others.
            const n = r.code.drain(cb, Math.max(1, Math.min(1024, Math.ceil(left / k))));
            total += n;
            round += n;
            if (r.stopped || this.#state.closed) return total; // the callback said stop
          }
          if (total >= maxRecords) return total;
          if (round === 0) break;
        }
      }
      return total;
    } finally {
      this.#waiter.drained(total);
    }
  }

  /**
   * Copies the next record into `buffer`; returns its length, or -1 when no record is ready.
   * A buffer too small for the record throws RangeError and leaves the record in the ring; bytes
   * past the record's length are left as they were. Fastest with one reused, 4-byte-aligned
   * buffer and records of whole words up to 256 bytes (an inlined word copy); anything else is
   * copied correctly on a slower path. Throws ClosedError once the reader is closed.
   */
  readInto(buffer: Uint8Array): number {
    // Kept tiny so V8 inlines it with the ring's copy code into the caller's loop. close()
    // swaps in a function that throws ClosedError, so the ring code never runs on a closed reader.
    return this.#readInto(buffer);
  }

  /** readInto over several rings (or none): highest priority first, round-robin within a priority. */
  #readIntoRings(buffer: Uint8Array): number {
    if (this.#state.closed) throw new ClosedError(this.#what);
    const levels = this.#levels;
    for (let lv = 0; lv < levels.length; lv++) {
      const level = levels[lv]!;
      const k = level.length;
      for (let j = 0; j < k; j++) {
        const at = (this.#levelNext[lv]! + j) % k;
        const n = level[at]!.code.readInto(buffer);
        if (n < 0) continue;
        this.#levelNext[lv] = (at + 1) % k;
        return n;
      }
    }
    return -1;
  }

  /** The next record as a new Uint8Array (a copy), or undefined when none is ready. */
  read(): Uint8Array | undefined {
    this.#check();
    const levels = this.#levels;
    for (let lv = 0; lv < levels.length; lv++) {
      const level = levels[lv]!;
      const k = level.length;
      for (let j = 0; j < k; j++) {
        const i = k === 1 ? 0 : (this.#levelNext[lv]! + j) % k;
        const r = level[i]!;
        const at = r.nextRecord();
        if (at < 0) continue;
        const len = r.hdr[at]! & LEN_MASK;
        const src = (at << 2) + HDR;
        const out = r.u8.slice(src, src + len);
        r.advance(at);
        if (k > 1) this.#levelNext[lv] = (i + 1) % k;
        return out;
      }
    }
    return undefined;
  }

  /**
   * Waits until a ring has data (or `timeoutMs` passes; < 0 waits indefinitely), then drains with
   * the callbacks. Resolves the number of records delivered: 0 on timeout, or when close() ends
   * the wait. Honours maxLatencyMs and flushMs.
   */
  async poll(timeoutMs = -1, callback?: RecordCallback): Promise<number> {
    this.#check();
    if (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs))
      throw argError(`poll timeout must be a number of milliseconds, got ${String(timeoutMs)}`);
    const r = await this.#waiter.wait(timeoutMs);
    if (r === 'closed' || this.#state.closed) return 0;
    return this.consume(callback);
  }

  /**
   * Event-driven reading (libbpf's epoll loop, in Node's event loop): from now on every ring is
   * drained with its callback synchronously inside the readiness callbacks — no promise and no
   * Node timer per wake-up. Honours maxLatencyMs (while records keep coming, one drain per budget
   * off a periodic timerfd, the fds unwatched) and flushMs. `beforeDrain` runs before each drain
   * (e.g. to read a clock once), `afterDrain` after it with the records delivered (0 on an empty
   * flush tick). While started, poll()/waitReadable()/iteration reject; consume() still works.
   * The watch keeps the event loop alive until stop() or close(). A callback that throws stops
   * the reader and the error surfaces as an uncaught exception.
   */
  start(hooks: { beforeDrain?: () => void; afterDrain?: (records: number) => void } = {}): this {
    this.#check();
    if (hooks === null || typeof hooks !== 'object') throw argError('RingBuffer.start hooks must be an object');
    const { beforeDrain, afterDrain } = hooks;
    if (beforeDrain !== undefined && typeof beforeDrain !== 'function')
      throw argError('start: beforeDrain must be a function');
    if (afterDrain !== undefined && typeof afterDrain !== 'function')
      throw argError('start: afterDrain must be a function');
    for (const r of this.#rings)
      if (!r.cb)
        throw argError(`start needs a callback for ring ${r.index} (none was given to the constructor or add)`);
    const state = this.#state;
    this.#waiter.run(() => {
      if (state.closed) return 0;
      if (beforeDrain !== undefined) {
        beforeDrain();
        if (state.closed) return 0;
      }
      const n = this.consume();
      if (afterDrain !== undefined && !state.closed) afterDrain(n);
      return n;
    });
    return this;
  }

  /**
   * Blocking reading, for a thread whose only job is this reader (a `worker_threads` Worker or a
   * dedicated process): drains every ring with its callback like start(), but waits in the kernel
   * instead of Node's event loop, the way libbpf's C consumers with a timerfd budget do: one epoll
   * set holds the ring fds and a periodic timerfd; while idle the fds are watched (and the timer
   * flushes every flushMs), while records keep coming the fds leave the set and the timer drains
   * once per maxLatencyMs. A wake-up is one native call (epoll_wait, and a read of the timerfd when
   * it fired) with no event-loop iteration, about half of an event-loop wake-up's cost, which
   * matters at high rates with sub-millisecond budgets. Blocks the calling thread until `afterDrain`
   * returns true (it runs after every drain with the records delivered, 0 on an empty flush tick)
   * or a callback closes the reader; timers, promises and messages of that thread wait meanwhile.
   * Errors thrown by callbacks propagate.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: a hook written as `() => {}` must type-check.
  runBlocking(hooks: { beforeDrain?: () => void; afterDrain?: (records: number) => boolean | void } = {}): void {
    this.#check();
    if (hooks === null || typeof hooks !== 'object') throw argError('RingBuffer.runBlocking hooks must be an object');
    const { beforeDrain, afterDrain } = hooks;
    if (beforeDrain !== undefined && typeof beforeDrain !== 'function')
      throw argError('runBlocking: beforeDrain must be a function');
    if (afterDrain !== undefined && typeof afterDrain !== 'function')
      throw argError('runBlocking: afterDrain must be a function');
    for (const r of this.#rings)
      if (!r.cb)
        throw argError(`runBlocking needs a callback for ring ${r.index} (none was given to the constructor or add)`);
    const state = this.#state;
    this.#waiter.runBlocking(() => {
      if (state.closed) return -1;
      if (beforeDrain !== undefined) {
        beforeDrain();
        if (state.closed) return -1;
      }
      const n = this.consume();
      if (state.closed) return -1;
      return afterDrain !== undefined && afterDrain(n) === true ? -1 : n;
    });
  }

  /** Leaves event-driven mode (see start()); records stay in the rings. Safe when not started or closed. */
  stop(): void {
    if (this.#state.closed) return;
    this.#waiter.halt();
  }

  /** Whether start() is driving the reader. */
  get started(): boolean {
    return !this.#state.closed && this.#waiter.running;
  }

  /** Resolves when a ring has data ('ready'), on timeout, or on close, without draining. */
  waitReadable(timeoutMs = -1): Promise<'ready' | 'timeout' | 'closed'> {
    this.#check();
    return this.#waiter.wait(timeoutMs);
  }

  /** Bytes waiting across all rings (committed, busy and discarded records included). */
  availableBytes(): number {
    this.#check();
    let n = 0;
    for (const r of this.#rings) n += r.available();
    return n;
  }

  /** Records the BPF side failed to reserve, summed over the rings' drop counters (per-CPU). */
  get lost(): number {
    this.#check();
    let n = 0;
    for (const r of this.#rings) {
      const dc = r.dropCounter;
      if (dc === undefined) continue;
      n += dc instanceof BpfMap ? (PerCpuArray.from<number>(dc).sum(0) ?? 0) : dc.read();
    }
    return n;
  }

  /**
   * Low-priority records the BPF-side overload policy sampled away (asmOverloadGate), summed over the
   * rings whose drop counter is an OverloadGuard; 0 without one. delivered + sampledOut + lost = produced.
   */
  get sampledOut(): number {
    this.#check();
    let n = 0;
    for (const r of this.#rings) {
      const dc = r.dropCounter;
      if (dc !== undefined && !(dc instanceof BpfMap) && 'sampledOut' in dc) n += dc.sampledOut;
    }
    return n;
  }

  /** The overload policy's current sampling: low-priority records kept 1 in this many (1 = all), the thinnest over the rings. */
  get keepOneIn(): number {
    this.#check();
    let k = 1;
    for (const r of this.#rings) {
      const dc = r.dropCounter;
      if (dc !== undefined && !(dc instanceof BpfMap) && 'keepOneIn' in dc) k = Math.max(k, dc.keepOneIn);
    }
    return k;
  }

  /**
   * Async iteration over copies of the records, in batches drained on fd readiness (and the flush
   * deadline). Ends when the reader is closed.
   */
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    const batch: Uint8Array[] = [];
    const collect: RecordCallback = (view, off, len) => {
      batch.push(view.slice(off, len));
    };
    return drainInBatches(this.#waiter, this.#state, batch, () => this.consume(collect, 65536));
  }

  /** Stops watching, ends pending waits, unmaps the rings and closes the reader's fds. Safe twice. */
  close(): void {
    if (this.#state.closed) return;
    this.#state.closed = true;
    this.#readInto = () => {
      throw new ClosedError(this.#what);
    };
    this.#waiter.close();
    // Immediately, also from inside a callback: unmap detaches the buffers first, so the running
    // drain's next header load throws (the drain catches that and ends), and no JS can reach the
    // unmapped memory.
    this.#release();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #release(): void {
    for (const r of this.#rings) r.unmap();
    for (const m of this.#ownedMaps) m.close();
    this.#ownedMaps.length = 0;
  }

  #check(): void {
    if (this.#state.closed) throw new ClosedError(this.#what);
  }
}

/** A private fd for the map (BPF_MAP_GET_FD_BY_ID), or the caller's map when that is refused. */
function ownFd(map: BpfMap): BpfMap {
  const id = map.info().id; // throws ClosedError for a closed map
  try {
    return BpfMap.fromId(id);
  } catch (e) {
    if (e instanceof BpfError && (e.code === 'EPERM' || e.code === 'EACCES')) return map;
    throw e;
  }
}
