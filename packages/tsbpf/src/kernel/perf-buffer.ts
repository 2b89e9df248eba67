/**
 * PerfBuffer: the BPF_MAP_TYPE_PERF_EVENT_ARRAY reader. One PERF_COUNT_SW_BPF_OUTPUT event per
 * online CPU, each with a ring of 2^n data pages after its control page, stored in the map at the
 * CPU's index; readiness on all of them in Node's event loop; samples delivered with their CPU,
 * PERF_RECORD_LOST reported with counts, records that wrap the ring end reassembled.
 */
import { BpfError, ClosedError } from './errors.js';
import { checkWaitOptions, FdWaiter, type WaitOptions, type WaitStats } from './fd-waiter.js';
import { onlineCpus } from './cpus.js';
import { BpfMap, PerfEventArray } from './map.js';
import { MAP_SHARED, native, PROT } from './native.js';
import { drainInBatches } from './reader-batches.js';
import { RecordView } from './record-view.js';
import { argError, OwnedFd } from './syscall.js';

const PERF_TYPE_SOFTWARE = 1;
const PERF_COUNT_SW_BPF_OUTPUT = 10;
const PERF_SAMPLE_RAW = 1 << 10;
const ATTR_FLAG_WATERMARK = 1 << 14;
const PERF_FLAG_FD_CLOEXEC = 8;
const PERF_EVENT_IOC_ENABLE = 0x2400;
const PERF_EVENT_IOC_DISABLE = 0x2401;
const ATTR_SIZE = 128;
const PERF_RECORD_LOST = 2;
const PERF_RECORD_SAMPLE = 9;
// struct perf_event_mmap_page: data_head at 1024, data_tail at 1032 (u64 each).
const HEAD = 1024;
const TAIL = 1032;

/** The sample callback: like RingBuffer's, plus the CPU the sample was written on. Return false to stop. */
export type PerfSampleCallback = (view: RecordView, offset: number, length: number, cpu: number) => unknown;
/** Called with the CPU and the number of samples the kernel dropped there (PERF_RECORD_LOST). */
export type PerfLostCallback = (cpu: number, count: number) => void;

/** Options for a PerfBuffer. */
export interface PerfBufferOptions extends WaitOptions {
  /** Data pages per CPU: a power of two (default 64 = 256 KiB with 4 KiB pages). */
  pageCount?: number;
  /** Wake the reader after this many samples (wakeup_events; default 1). */
  wakeupEvents?: number;
  /** Or: wake after this many bytes are waiting (wakeup_watermark); overrides wakeupEvents. */
  watermarkBytes?: number;
  /** CPUs to open (default: the online CPUs). The map needs maxEntries > the largest. */
  cpus?: number[];
  /** Lost-sample reports. The running total is also in `lost`. */
  onLost?: PerfLostCallback;
}

const scratchF64 = new Float64Array(1);
const scratchU32 = new Uint32Array(scratchF64.buffer);

/** One CPU's perf event and mapping. Internal. */
class CpuRing {
  readonly cpu: number;
  readonly fd: OwnedFd;
  mapping: ArrayBuffer;
  readonly u32: Uint32Array;
  readonly tailF64: Float64Array;
  readonly view: RecordView;
  readonly u8: Uint8Array;
  readonly base: number;
  readonly size: number;
  readonly mask: number;
  /** The generated drain (undefined: PerfBuffer's closure drain). */
  drain: RingDrain | undefined;
  /** The generated drain's state array (st[0]: the tail to publish should a callback throw). */
  drainState: Int32Array | undefined;
  /** Set by unmap(): a drain that finds the ring released under it (zero pages, or detached) ends quietly. */
  unmapped = false;

  constructor(cpu: number, fd: OwnedFd, mapping: ArrayBuffer, pageSize: number, dataSize: number) {
    this.cpu = cpu;
    this.fd = fd;
    this.mapping = mapping;
    this.u32 = new Uint32Array(mapping);
    this.tailF64 = new Float64Array(mapping, TAIL, 1);
    this.view = new RecordView(mapping);
    this.u8 = new Uint8Array(mapping);
    this.base = pageSize;
    this.size = dataSize;
    this.mask = dataSize - 1;
    this.drain = undefined;
  }

  available(): number {
    return (Atomics.load(this.u32, HEAD >> 2) - this.u32[TAIL >> 2]!) >>> 0;
  }

  /**
   * Releases the ring (native.unmap): zero pages replace the mapping in place, so no JavaScript
   * reaches the kernel's memory from then on, and the ArrayBuffer stays attached (a detach would
   * slow every typed array access in the process). A running drain reads a zero header next,
   * which is not a sample: its slow path sees `unmapped` and ends the drain.
   */
  unmap(): void {
    this.unmapped = true;
    native.unmap(this.mapping);
  }

  /**
   * After the generated drain threw: publishes the tail it reached (past the sample whose callback
   * threw: that sample counts as read). Returns true when the error only means that a callback
   * closed the reader and the addon detached the ring (a header load threw): the drain then ends
   * quietly. (A callback's own error thrown after closing is indistinguishable in that one case.)
   */
  settleThrow(): boolean {
    if (this.unmapped) return this.u32.length === 0;
    const t = this.drainState![0]! | 0;
    const lo = this.u32[TAIL >> 2]! | 0;
    if (t !== lo) this.publish(t, (this.u32[(TAIL >> 2) + 1]! + (t >>> 0 < lo >>> 0 ? 1 : 0)) >>> 0);
    return false;
  }

  /** One 64-bit store of data_tail. */
  publish(lo: number, hi: number): void {
    scratchU32[0] = lo;
    scratchU32[1] = hi;
    this.tailF64[0] = scratchF64[0]!;
  }
}

/** A CPU ring's generated drain: returns n ≥ 0 samples delivered, or -n - 1 when a callback stopped it. */
type RingDrain = (cb: PerfSampleCallback) => number;
/**
 * One rare record (wrapping, lost, unknown type) at tail `t`: st[0] = st[4] = the new tail (set
 * before the callback runs), st[5] = 1 when the callback stopped the drain, st[6] = samples delivered.
 */
type SlowRecord = (r: CpuRing, t: number, cb: PerfSampleCallback, st: Int32Array) => void;

let nextPerfRingId = 0;
/** data_tail is stored at least this often (bytes) in a generated drain. */
const PERF_BATCH_BYTES = 16384;
/**
 * Elements of a generated drain's state array: over 64 bytes, so V8 keeps its memory off the heap
 * and optimised code addresses it as a constant (a small on-heap one costs a length and pointer
 * reload per access after every loop back-edge).
 */
const DRAIN_STATE_LENGTH = 32;

/*
 * Each CPU ring gets its own drain, generated with new Function and a unique name in the source (as
 * ring-buffer.ts does), so V8 gives it its own feedback: the callback call site in the loop sees
 * only this reader's callback, stays monomorphic, and V8 inlines the callback into the loop.
 * The ring's base, mask and size are constants in the source. Per record: two header loads, one
 * length load, one store of the tail to the state array, and the call; no allocation, no BigInt.
 * data_tail is stored once per 16 KiB batch (libbpf's perf_buffer__consume stores it once per
 * drain), and when a callback throws (that sample counts as read).
 * The generated code has no try: a try around the loop (also one V8 inlines the batch into) keeps
 * the tail tagged (a Smi) in memory across the callback: ~10% of drain throughput (bench/RESULTS.md).
 * Instead the state array's st[0] holds the tail past the sample being delivered before its
 * callback runs, and when a callback throws, consume() publishes that (CpuRing.settleThrow).
 * No per-record closed check: close() releases the ring at once, also from inside a callback, by
 * mapping zero pages over it, so the next header reads type 0, not a sample: the slow path sees
 * `ring.unmapped` and stops the drain. Data_tail stores land in the replacement page. (Should the
 * addon have detached the buffer instead, the next header load throws a TypeError, which
 * settleThrow recognises: the drain then ends quietly.)
 * Records that wrap the ring end, PERF_RECORD_LOST and unknown types go through `slow`.
 */
function perfDrainSource(id: number, cpu: number, base: number, size: number): string {
  return `'use strict';
// tsbpf perf ring ${id} (CPU ${cpu})
function publishWide(lo, hi) {
  scratchU32[0] = lo;
  scratchU32[1] = hi;
  tailF64[0] = scratchF64[0];
}
// One batch, up to the first record boundary at or past stop. Called once per batch, so V8
// optimises it by calls (a whole function, which it may then inline into the drain) rather than
// only on-stack in the middle of a long drain: on-stack code is slower, and once cached, later
// calls re-enter it and never tier up.
// Returns the new tail; st[0] = the tail to publish should a callback throw, st[3] = samples
// delivered, st[1] = 1 when a callback stopped the drain. The tail and the stop are int32 locals
// (| 0), so V8 keeps them untagged in registers.
function batch_perf_${id}(cb, from, stop) {
  let t = from | 0;
  const end = stop | 0;
  let n = 0;
  do {
    const off = t & ${size - 1};
    const at = ${base} + off;
    // A sample that does not wrap: type, size and the raw length are aligned 4-byte loads.
    if (off <= ${size - 16}) {
      const type = view.getInt32(at, true);
      const rs = view.getInt32(at + 4, true) >>> 16;
      if (type === ${PERF_RECORD_SAMPLE} && off + rs <= ${size} && rs >= 16) {
        t = (t + rs) | 0;
        n = (n + 1) | 0;
        st[0] = t; // should this callback throw, its sample counts as read
        if (cb(view, at + 12, view.getInt32(at + 8, true), ${cpu}) === false) { st[1] = 1; break; }
        continue;
      }
    }
    st[0] = t;
    st[4] = t;
    st[5] = 0;
    st[6] = 0;
    slow(ring, t, cb, st);
    t = st[4] | 0;
    n = (n + st[6]) | 0;
    if (st[5] !== 0) { st[1] = 1; break; }
  } while (((t - end) | 0) < 0);
  st[3] = n;
  return t;
}
function drain_perf_${id}(cb) {
  const head = Atomics.load(u32, ${HEAD >> 2}) | 0; // acquire: pairs with the kernel's release of data_head
  let t = u32[${TAIL >> 2}] | 0;
  let n = 0;
  st[0] = t;
  while (t !== head) {
    // Batches of ${PERF_BATCH_BYTES} bytes, data_tail stored after each (producers get space back
    // during a long drain).
    const batchStart = t;
    const left = (head - t) >>> 0;
    st[1] = 0;
    t = batch_perf_${id}(cb, t, (t + (left > ${PERF_BATCH_BYTES} ? ${PERF_BATCH_BYTES} : left)) | 0);
    n = (n + st[3]) | 0;
    const hi = (u32[${(TAIL >> 2) + 1}] + ((t >>> 0) < (batchStart >>> 0) ? 1 : 0)) >>> 0;
    if (hi === u32[${(TAIL >> 2) + 1}]) u32[${TAIL >> 2}] = t; else publishWide(t, hi);
    if (st[1] !== 0) return -n - 1;
  }
  return n;
}
return drain_perf_${id};
`;
}

const DRAIN_PARAMS = ['ring', 'u32', 'tailF64', 'view', 'slow', 'st', 'scratchU32', 'scratchF64'] as const;

/** The ring's generated drain, or undefined when code generation from strings is disabled. */
function makePerfDrain(r: CpuRing, slow: SlowRecord): RingDrain | undefined {
  let factory: (...args: unknown[]) => RingDrain;
  try {
    factory = new Function(...DRAIN_PARAMS, perfDrainSource(nextPerfRingId++, r.cpu, r.base, r.size)) as typeof factory;
  } catch {
    return undefined; // --disallow-code-generation-from-strings: PerfBuffer's own (shared) drain loop
  }
  const st = new Int32Array(DRAIN_STATE_LENGTH);
  const drain = factory(r, r.u32, r.tailF64, r.view, slow, st, scratchU32, scratchF64);
  r.drainState = st;
  // Run it on the still empty ring (its event is not enabled yet) enough times for V8 to give it
  // a feedback vector (allocated lazily, after several calls) and type feedback for the code
  // around the loop. Otherwise a long first drain runs without feedback, V8 compiles the loop
  // on-stack, and that code deoptimises at the first post-loop operation on every later drain.
  // The callback is never reached (nothing to read), so its call site stays free for the user's.
  for (let i = 0; i < 200; i++) drain(noCallback);
  return drain;
}
const noCallback: PerfSampleCallback = () => undefined;

/**
 * Reads a perf_event_array map fed by `bpf_perf_event_output`.
 *
 * ```ts
 * using pb = new PerfBuffer(events, (view, off, len, cpu) => { ... }, { onLost: (cpu, n) => {} });
 * await pb.poll(100);
 * ```
 * Sample lengths are the kernel's raw sizes: the BPF side's size rounded up so that size + 4 is
 * a multiple of 8 (the padding is zeroes), as with libbpf.
 */
export class PerfBuffer {
  readonly #rings: CpuRing[] = [];
  readonly #waiter: FdWaiter;
  readonly #cb: PerfSampleCallback | undefined;
  readonly #onLost: PerfLostCallback | undefined;
  readonly #state = { closed: false };
  readonly #map: PerfEventArray;
  #scratch = new Uint8Array(256);
  #scratchView = new RecordView(this.#scratch.buffer);
  #lost = 0;
  #next = 0;
  readonly #what = 'perf buffer reader';

  constructor(map: BpfMap, callback?: PerfSampleCallback, options: PerfBufferOptions = {}) {
    if (!(map instanceof BpfMap)) throw argError('PerfBuffer expects a BpfMap of type perf_event_array');
    if (options === null || typeof options !== 'object') throw argError('PerfBuffer options must be an object');
    const mapFd = map.fd; // ClosedError for a closed map
    if (map.type !== 'perf_event_array')
      throw argError(`PerfBuffer reads perf_event_array maps, not ${map.type} (use RingBuffer for ringbuf)`);
    if (callback !== undefined && typeof callback !== 'function')
      throw argError('PerfBuffer callback must be a function');
    const pages = options.pageCount ?? 64;
    if (!Number.isInteger(pages) || pages < 1 || (pages & (pages - 1)) !== 0 || pages > 1 << 20)
      throw argError(`pageCount must be a power of two, got ${pages}`);
    const wakeupEvents = options.wakeupEvents ?? 1;
    if (!Number.isInteger(wakeupEvents) || wakeupEvents < 1)
      throw argError(`wakeupEvents must be a positive integer, got ${wakeupEvents}`);
    const watermark = options.watermarkBytes;
    if (watermark !== undefined && (!Number.isInteger(watermark) || watermark < 1))
      throw argError(`watermarkBytes must be a positive integer, got ${watermark}`);
    const cpus = options.cpus ?? onlineCpus();
    if (!Array.isArray(cpus) || cpus.length === 0 || cpus.some((c) => !Number.isInteger(c) || c < 0))
      throw argError('cpus must be a non-empty array of CPU ids');
    for (const c of cpus)
      if (c >= map.maxEntries)
        throw argError(
          `CPU ${c} does not fit the map (maxEntries ${map.maxEntries}); create it with maxEntries ≥ ${Math.max(...cpus) + 1}`,
        );
    if (options.onLost !== undefined && typeof options.onLost !== 'function')
      throw argError('onLost must be a function');
    this.#waiter = new FdWaiter(this.#what, () => this.availableBytes() > 0, checkWaitOptions(options, 'PerfBuffer'));
    this.#cb = callback;
    this.#onLost = options.onLost;
    this.#map = PerfEventArray.from(map);

    const pg = native.pageSize;
    const attr = new Uint8Array(ATTR_SIZE);
    const a = new DataView(attr.buffer);
    a.setUint32(0, PERF_TYPE_SOFTWARE, true);
    a.setUint32(4, ATTR_SIZE, true);
    a.setUint32(8, PERF_COUNT_SW_BPF_OUTPUT, true);
    a.setUint32(16, 1, true); // sample_period
    a.setUint32(24, PERF_SAMPLE_RAW, true);
    if (watermark !== undefined) {
      a.setUint32(40, ATTR_FLAG_WATERMARK, true);
      a.setUint32(48, watermark, true);
    } else {
      a.setUint32(48, wakeupEvents, true);
    }
    try {
      for (const cpu of cpus) {
        const fd = native.perfEventOpen(attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
        if (fd < 0)
          throw new BpfError(-fd, {
            syscall: 'perf_event_open',
            command: 'PERF_COUNT_SW_BPF_OUTPUT',
            object: `CPU ${cpu}`,
          });
        const owned = new OwnedFd(fd, `perf event (CPU ${cpu})`);
        const m = native.mmap(fd, pg * (pages + 1), PROT.read | PROT.write, MAP_SHARED, 0);
        if (typeof m === 'number') {
          owned.close();
          throw new BpfError(-m, {
            syscall: 'mmap',
            object: `perf buffer of CPU ${cpu} (${pages} pages)`,
            hint:
              -m === 1 ? 'perf buffers count against perf_event_mlock_kb; use fewer pages or run as root' : undefined,
          });
        }
        const ring = new CpuRing(cpu, owned, m, pg, pages * pg);
        ring.drain = makePerfDrain(ring, this.#slowRecord);
        this.#rings.push(ring);
        const r = native.ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
        if (r < 0) throw new BpfError(-r, { syscall: 'ioctl', command: 'PERF_EVENT_IOC_ENABLE', object: `CPU ${cpu}` });
        this.#map.set(cpu, fd);
        this.#waiter.add(fd);
      }
    } catch (e) {
      this.#release(mapFd >= 0);
      this.#state.closed = true;
      this.#waiter.close();
      throw e;
    }
  }

  get closed(): boolean {
    return this.#state.closed;
  }

  /** CPUs being read. */
  get cpus(): number[] {
    return this.#rings.map((r) => r.cpu);
  }

  /** Samples the kernel reported lost (PERF_RECORD_LOST), in total. */
  get lost(): number {
    return this.#lost;
  }

  get stats(): Readonly<WaitStats> {
    return this.#waiter.stats;
  }

  /** Bytes waiting across CPUs. */
  availableBytes(): number {
    this.#check();
    let n = 0;
    for (const r of this.#rings) n += r.available();
    return n;
  }

  /**
   * Drains every CPU's buffer now, zero-copy where a record does not wrap the ring end (those are
   * reassembled in a scratch buffer). Returns the samples delivered.
   */
  consume(callback?: PerfSampleCallback): number {
    this.#check();
    const cb = callback ?? this.#cb;
    if (!cb) throw argError('consume needs a callback (none was given to the constructor)');
    const rings = this.#rings;
    const k = rings.length;
    let total = 0;
    let r: CpuRing | undefined;
    try {
      const first = this.#next;
      this.#next = (first + 1) % k;
      for (let j = 0; j < k; j++) {
        r = rings[(first + j) % k]!;
        const n = r.drain !== undefined ? r.drain(cb) : this.#drain(r, cb);
        if (n < 0) {
          total += -n - 1;
          break;
        }
        total += n;
        if (this.#state.closed) break;
      }
    } catch (e) {
      // The generated drains have no try of their own (see perfDrainSource): settle here.
      if (r?.drain === undefined || !r.settleThrow()) throw e;
    } finally {
      this.#waiter.drained(total);
    }
    return total;
  }

  #drain(r: CpuRing, cb: PerfSampleCallback): number {
    const u32 = r.u32,
      u8 = r.u8,
      view = r.view,
      base = r.base,
      mask = r.mask,
      size = r.size,
      cpu = r.cpu;
    const head = Atomics.load(u32, HEAD >> 2) | 0; // acquire: pairs with the kernel's release of data_head
    const start = u32[TAIL >> 2]! | 0;
    let hi = u32[(TAIL >> 2) + 1]!;
    let t = start;
    let n = 0;
    let stopped = false;
    const state = this.#state;
    try {
      while (t !== head) {
        const off = t & mask;
        let at = base + off;
        // The fast path: a sample that does not wrap (records are 8-byte aligned, so their
        // header and length words are aligned u32 loads), with the header in the same load order.
        if (off + 16 <= size) {
          const w = at >> 2;
          const type0 = u32[w]!;
          const size0 = u32[w + 1]! >>> 16;
          if (type0 === PERF_RECORD_SAMPLE && size0 >= 16 && off + size0 <= size) {
            t = (t + size0) | 0;
            n++;
            if (cb(view, at + 12, u32[w + 2]!, cpu) === false || state.closed) {
              stopped = true;
              break;
            }
            continue;
          }
        }
        let v = view;
        // perf_event_header { u32 type; u16 misc; u16 size } — the header itself may wrap.
        let recSize: number;
        let type: number;
        if (off + 8 <= size) {
          type = u32[at >> 2]!;
          recSize = u32[(at >> 2) + 1]! >>> 16;
        } else {
          const s = this.#gather(r, off, 8);
          type = s.getUint32(0, true);
          recSize = s.getUint16(6, true);
        }
        if (recSize < 8) throw new Error(`tsbpf: corrupt perf record (size ${recSize}) on CPU ${cpu}`);
        if (off + recSize > size) {
          v = this.#gather(r, off, recSize);
          at = 0;
        }
        t = (t + recSize) | 0;
        if (type === PERF_RECORD_SAMPLE) {
          const len = v.getUint32(at + 8, true);
          n++;
          if (cb(v, at + 12, len, cpu) === false || state.closed) {
            stopped = true;
            break;
          }
        } else if (type === PERF_RECORD_LOST) {
          // { u64 id; u64 lost }
          const lost = v.getUint32(at + 16, true) + v.getUint32(at + 20, true) * 0x100000000;
          this.#lost += lost;
          this.#onLost?.(cpu, lost);
          if (state.closed) {
            stopped = true;
            break;
          } // onLost closed the reader: the ring is unmapped
        }
      }
    } finally {
      if (t >>> 0 < start >>> 0) hi++;
      if (t !== start) r.publish(t, hi);
    }
    void u8;
    return stopped ? -n - 1 : n;
  }

  /** The generated drains' rare records (see SlowRecord). */
  readonly #slowRecord: SlowRecord = (r, t, cb, st) => {
    if (r.unmapped) {
      st[5] = 1;
      return;
    } // closed by an earlier callback of this drain
    const off = t & r.mask;
    let at = r.base + off;
    let v = r.view;
    let type: number;
    let recSize: number;
    if (off + 8 <= r.size) {
      type = r.u32[at >> 2]!;
      recSize = r.u32[(at >> 2) + 1]! >>> 16;
    } else {
      const s = this.#gather(r, off, 8);
      type = s.getUint32(0, true);
      recSize = s.getUint16(6, true);
    }
    if (recSize < 8) throw new Error(`tsbpf: corrupt perf record (size ${recSize}) on CPU ${r.cpu}`);
    if (off + recSize > r.size) {
      v = this.#gather(r, off, recSize);
      at = 0;
    }
    st[0] = st[4] = (t + recSize) | 0;
    if (type === PERF_RECORD_SAMPLE) {
      st[6] = 1;
      if (cb(v, at + 12, v.getUint32(at + 8, true), r.cpu) === false) st[5] = 1;
    } else if (type === PERF_RECORD_LOST) {
      // { u64 id; u64 lost }
      const lost = v.getUint32(at + 16, true) + v.getUint32(at + 20, true) * 0x100000000;
      this.#lost += lost;
      this.#onLost?.(r.cpu, lost);
    }
  };

  /** Copies a record that wraps the end of the data area into the scratch buffer. */
  #gather(r: CpuRing, off: number, len: number): RecordView {
    if (this.#scratch.length < len) {
      this.#scratch = new Uint8Array(Math.max(len, this.#scratch.length * 2));
      this.#scratchView = new RecordView(this.#scratch.buffer);
    }
    const first = Math.min(len, r.size - off);
    this.#scratch.set(r.u8.subarray(r.base + off, r.base + off + first), 0);
    if (first < len) this.#scratch.set(r.u8.subarray(r.base, r.base + len - first), first);
    return this.#scratchView;
  }

  /** Waits for data (timeoutMs < 0: indefinitely) and drains. Resolves the samples delivered (0 on timeout or close). */
  async poll(timeoutMs = -1, callback?: PerfSampleCallback): Promise<number> {
    this.#check();
    const r = await this.#waiter.wait(timeoutMs);
    if (r === 'closed' || this.#state.closed) return 0;
    return this.consume(callback);
  }

  /** Async iteration over copies of the samples with their CPU. Ends on close(). */
  [Symbol.asyncIterator](): AsyncIterator<{ cpu: number; data: Uint8Array }> {
    const batch: { cpu: number; data: Uint8Array }[] = [];
    const collect: PerfSampleCallback = (view, off, len, cpu) => {
      batch.push({ cpu, data: view.slice(off, len) });
    };
    return drainInBatches(this.#waiter, this.#state, batch, () => this.consume(collect));
  }

  /** Disables the events, removes them from the map, unmaps and closes. Safe twice. */
  close(): void {
    if (this.#state.closed) return;
    this.#state.closed = true;
    this.#waiter.close();
    // At once, also from inside a callback: each ring reads zeros from then on, so a running
    // drain's next header is not a sample, and its slow path ends the drain (see CpuRing.unmap).
    this.#release(true);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #release(clearMap: boolean): void {
    for (const r of this.#rings) {
      if (r.fd.closed) continue;
      native.ioctl(r.fd.fd, PERF_EVENT_IOC_DISABLE, 0);
      if (clearMap && !this.#map.closed) {
        try {
          this.#map.delete(r.cpu);
        } catch {
          /* already gone */
        }
      }
      r.unmap();
      r.fd.close();
    }
  }

  #check(): void {
    if (this.#state.closed) throw new ClosedError(this.#what);
  }
}
