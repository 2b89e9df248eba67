import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

const WORKERS = 4;
const ITERATIONS = 1000;
const EVENTS = 16;

const BODY = new URL('../support/native-churn-worker.ts', import.meta.url).href;

/**
 * The fds the workers could leak: anonymous-inode fds (BPF maps, programs and links, timerfds, perf
 * events). Counting every fd made the test flaky: the test runner and tsx open and close files and pipes
 * of their own while it runs (one run saw 28 before and 27 after).
 */
const fdCount = () =>
  readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith('anon_inode:');
    } catch {
      return false;
    } // closed meanwhile
  }).length;
/** Mappings of BPF map fds (ring buffers, mmapable arrays) in this process. */
const bpfMappings = () =>
  readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((l) => l.includes('anon_inode:bpf')).length;

function runWorker(): Promise<number> {
  return new Promise((resolve, reject) => {
    // The TypeScript worker body is imported once tsx is registered in the worker.
    const code = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(BODY)}); })`;
    const w = new Worker(code, { eval: true, workerData: { iterations: ITERATIONS, events: EVENTS } });
    let result: { received?: number; error?: string } = {};
    w.on('message', (m) => {
      result = m;
    });
    w.on('error', reject);
    w.on('exit', (code) => {
      if (result.error) reject(new Error(result.error));
      else if (code !== 0 || result.received === undefined) reject(new Error(`worker exited with ${code}`));
      else resolve(result.received);
    });
  });
}

test('4 worker threads open and close ring buffers and mmapable arrays 1,000 times each at once: no crash, no leaked fd or mapping', async () => {
  const fds = fdCount();
  const maps = bpfMappings();
  const received = await Promise.all(Array.from({ length: WORKERS }, runWorker));
  assert.deepEqual(received, Array(WORKERS).fill(ITERATIONS * EVENTS));
  assert.equal(fdCount(), fds, 'BPF, timer and perf fds after the workers exit');
  assert.equal(bpfMappings(), maps, 'BPF map mappings after the workers exit');
});
