/**
 * The async-iteration loop shared by RingBuffer and PerfBuffer: drain what is there into a batch,
 * yield it, and when nothing was there wait for the fd to become readable. Copies only (the batch
 * outlives the drain callback), so this is the convenient path, not the hot one.
 */
import type { FdWaiter } from './fd-waiter.js';

/**
 * Yields the items each `drain()` appends to `batch` (the caller's callback pushes there), until
 * `state.closed` is set or `waiter` reports the reader closed (a rejected wait counts as closed).
 */
export async function* drainInBatches<T>(
  waiter: FdWaiter,
  state: { readonly closed: boolean },
  batch: T[],
  drain: () => void,
): AsyncGenerator<T, void, undefined> {
  while (!state.closed) {
    drain();
    if (batch.length === 0) {
      const r = await waiter.wait(-1).catch(() => 'closed' as const);
      if (r === 'closed') return;
      continue;
    }
    for (let i = 0; i < batch.length; i++) yield batch[i]!;
    batch.length = 0;
  }
}
