/**
 * Test helpers for the ring/perf buffer tests: the benchmark's event producers, plus a worker
 * thread that test-runs a program concurrently, for tests that need real wake-ups.
 */
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Program } from '../../src/index.js';
export * from './event-producers.js';

const addon = join(dirname(), '..', '..', 'build', 'Release', 'tsbpf_native.node');
function dirname(): string {
  return join(fileURLToPath(import.meta.url), '..');
}

const WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
const native = require(workerData.addon);
const attr = new Uint8Array(80); const dv = new DataView(attr.buffer);
const data = new Uint8Array(64);
const addr = native.addressOf(data);
const sleeper = new Int32Array(new SharedArrayBuffer(4));
for (let i = 0; i < workerData.bursts; i++) {
  attr.fill(0);
  dv.setUint32(0, workerData.progFd, true); dv.setUint32(8, 64, true);
  dv.setUint32(16, addr % 0x100000000, true); dv.setUint32(20, Math.floor(addr / 0x100000000), true);
  dv.setUint32(32, workerData.repeat, true);
  const r = native.bpf(10, attr);
  if (r < 0) { parentPort.postMessage({ error: r }); process.exit(1); }
  if (workerData.gapMs > 0) Atomics.wait(sleeper, 0, 0, workerData.gapMs);
}
parentPort.postMessage({ done: true });
`;

/** Test-runs `prog` from a worker thread: `bursts` runs of `repeat` events, `gapMs` apart. Resolves when done. */
export function produceInWorker(
  prog: Program,
  o: { bursts: number; repeat: number; gapMs: number; delayMs?: number },
): Promise<void> {
  return new Promise((resolve, reject) => {
    const start = () => {
      const w = new Worker(WORKER, {
        eval: true,
        workerData: { addon, progFd: prog.fd, bursts: o.bursts, repeat: o.repeat, gapMs: o.gapMs },
      });
      w.on('message', (m: { done?: boolean; error?: number }) => {
        if (m.error) reject(new Error(`worker test run failed: ${m.error}`));
      });
      w.on('error', reject);
      w.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`producer worker exited with ${code}`))));
    };
    if (o.delayMs) setTimeout(start, o.delayMs);
    else start();
  });
}
