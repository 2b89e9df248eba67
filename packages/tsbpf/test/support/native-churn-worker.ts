/**
 * Worker body for the thread-safety test: opens and closes ring buffers (with a reader draining
 * through the event loop) and mmapable arrays `iterations` times, then reports what it saw.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { asm, BpfMap, MAP_FLAG, Program, R0, R1, R2, R3, R4, R10, RingBuffer, t } from '../../src/index.js';

const { iterations, events } = workerData as { iterations: number; events: number };

async function main(): Promise<void> {
  let received = 0;
  for (let i = 0; i < iterations; i++) {
    using ring = BpfMap.create({ type: 'ringbuf', maxEntries: 4096 });
    using prog = Program.load({
      type: 'xdp',
      instructions: [
        asm.stdw(R10, -8, i),
        asm.ldMapFd(R1, ring),
        asm.mov64(R2, R10),
        asm.add64(R2, -8),
        asm.mov64(R3, 8),
        asm.mov64(R4, 0),
        asm.call('ringbuf_output'),
        asm.mov64(R0, 2),
        asm.exit(),
      ],
    });
    let got = 0;
    using rb = new RingBuffer(ring, (view, off, len) => {
      if (len !== 8 || view.getUint32(off, true) !== i) throw new Error(`iteration ${i}: bad record`);
      got++;
    });
    prog.testRun({ data: new Uint8Array(64), repeat: events, dataOutSize: 0 });
    // Drain through uv_poll (the reader's event-driven path), not only a synchronous consume.
    while (got < events)
      if ((await rb.poll(1000)) === 0 && got < events) throw new Error(`iteration ${i}: ${got}/${events} after 1 s`);
    received += got;

    using arr = BpfMap.create({ type: 'array', key: t.u32, value: t.u64, maxEntries: 512, flags: MAP_FLAG.mmapable });
    const view = arr.mmap({ writable: true });
    view.setBigUint64(8 * (i % 512), BigInt(i), true);
    if (arr.lookup(i % 512) !== BigInt(i)) throw new Error(`iteration ${i}: mmap write not seen by lookup`);
  }
  parentPort!.postMessage({ received });
}

main().catch((e) => {
  parentPort!.postMessage({ error: String((e as Error).stack ?? e) });
});
