/**
 * The perf-buffer side of `trace syscalls --buffer perf`: a perf_event_array sized for every CPU and
 * a PerfBuffer whose `lost` is the BPF program's drop counter (perf_event_output failures, which the
 * kernel also reports as PERF_RECORD_LOST), so both buffers report drops the same way.
 */
import { possibleCpus } from 'tsbpf';
import type { DropCounter } from 'tsbpf';
import { BpfMap } from 'tsbpf';
import { PerfBuffer as KernelPerfBuffer, type PerfSampleCallback } from 'tsbpf';

/** A perf_event_array with one slot per possible CPU. */
export function createPerfEventArray(name: string): BpfMap {
  return BpfMap.create({ type: 'perf_event_array', keySize: 4, valueSize: 4, maxEntries: possibleCpus(), name });
}

/** PerfBuffer reporting the BPF-side drop counter as `lost`. */
export class PerfBuffer {
  readonly #reader: KernelPerfBuffer;
  readonly #drops: Pick<DropCounter, 'read'>;

  constructor(map: BpfMap, callback: PerfSampleCallback, opts: { dropCounter: Pick<DropCounter, 'read'> }) {
    this.#reader = new KernelPerfBuffer(map, callback);
    this.#drops = opts.dropCounter;
  }

  poll(timeoutMs?: number): Promise<number> {
    return this.#reader.poll(timeoutMs);
  }

  consume(): number {
    return this.#reader.consume();
  }

  /** Drops counted by the BPF program; the kernel's PERF_RECORD_LOST total counts the same failures. */
  get lost(): number {
    return Math.max(this.#drops.read(), this.#reader.lost);
  }

  close(): void {
    this.#reader.close();
  }
}
