/**
 * Lab 12.2 (zero-copy event collection): the seed's copy-based, zero-copy and batched collectors,
 * written with tsbpf's assembler almost line for line. The programs are defined once, in
 * `src/labs/exec-programs.ts` (read it side by side with the seed), and shared with `tsbpf trace exec`;
 * the event layout `ProcessEvent` is shared by the BPF side (offsets) and the JS decoder.
 *
 * Run it (root or CAP_BPF): `node --import tsx examples/lab12-2-zerocopy.ts`. It loads the three
 * collectors as raw tracepoint programs, test-runs each once (in production: attach to
 * sched/sched_process_exec), drains the ring zero-copy and prints the events.
 */
import { pathToFileURL } from 'node:url';
import { BpfMap, Program, RingBuffer } from 'tsbpf';
import {
  batchedZeroCopyProgram,
  copyBasedProgram,
  EVENT_SIZE,
  ProcessEvent,
  zeroCopyProgram,
} from '../src/labs/exec-programs.js';

export { batchedZeroCopyProgram, copyBasedProgram, EVENT_SIZE, ProcessEvent, zeroCopyProgram };

function main(): void {
  // `(def event-buffer-zerocopy {:type :ring_buffer :max-entries (* 256 1024)})`
  using eventBuffer = BpfMap.create({ type: 'ringbuf', maxEntries: 256 * 1024, name: 'event_buffer' });
  for (const build of [copyBasedProgram, zeroCopyProgram, batchedZeroCopyProgram]) {
    using prog = Program.load({
      type: 'raw_tracepoint',
      name: build.name.slice(0, 15),
      instructions: build(eventBuffer),
    });
    const { retval } = prog.testRun({ ctx: new Uint8Array(8), repeat: 0, ctxOutSize: 0 });
    console.log(`${build.name}: loaded, test-run returned ${retval}`);
  }

  const lines: string[] = [];
  using reader = new RingBuffer(eventBuffer, (view, offset, length) => {
    // `view` is ring memory itself, valid only during the callback: decode, don't keep it.
    const e = ProcessEvent.decode(view, offset);
    lines.push(`  pid ${e.pid} uid ${e.uid} ts ${e.timestamp} comm ${JSON.stringify(e.comm)} (${length} bytes)`);
  });
  const n = reader.consume();
  // The batched collector submits only when this process's PID is >= 1000.
  console.log(`${n} events of ${EVENT_SIZE} bytes read zero-copy from the ring:\n${lines.join('\n')}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
