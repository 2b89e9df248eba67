/**
 * Test-run event producers for the ring/perf buffer benchmarks and tests: XDP programs that number
 * each run from a counter map (seq) and emit a 32-byte event derived from it, so a reader can
 * check every record's contents, a checksum, and that each seq arrives exactly once.
 */
import { asm, type AsmItem, R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10 } from 'tsbpf';
import { t } from 'tsbpf';
import { asmRingbufOutput, asmRingbufReserve, type DropCounter } from 'tsbpf';
import { BpfMap, type ArrayMap } from 'tsbpf';
import { Program } from 'tsbpf';

/** The event's eight u32 words for seq `s`. */
export function eventWords(s: number): number[] {
  return [s >>> 0, 0, 64, 3, Math.imul(s, 0x9e3779b1) >>> 0, (s ^ 0x5a5a5a5a) >>> 0, 0x0800, s & 7];
}

/** Checks a 32-byte event at `off` in `view`; returns its seq or throws. */
export function checkEvent(view: DataView, off: number, len: number): number {
  if (len !== 32) throw new Error(`event length ${len}, expected 32`);
  const s = view.getUint32(off, true);
  const w = eventWords(s);
  for (let i = 0; i < 8; i++) {
    const got = view.getUint32(off + 4 * i, true);
    if (got !== w[i]) throw new Error(`event seq ${s}: word ${i} is ${got}, expected ${w[i]}`);
  }
  return s;
}

/** The benchmark checksum of one event: w0 + 3*w1 + 5*w2 + ... + 15*w7 (mod 2^32), as bench/c/ringbuf_consume.c. */
export function eventChecksum(view: DataView, off: number): number {
  const a = (view.getInt32(off, true) + Math.imul(view.getInt32(off + 4, true), 3)) | 0;
  const b = (Math.imul(view.getInt32(off + 8, true), 5) + Math.imul(view.getInt32(off + 12, true), 7)) | 0;
  const c = (Math.imul(view.getInt32(off + 16, true), 9) + Math.imul(view.getInt32(off + 20, true), 11)) | 0;
  const d = (Math.imul(view.getInt32(off + 24, true), 13) + Math.imul(view.getInt32(off + 28, true), 15)) | 0;
  return (((a + b) | 0) + ((c + d) | 0)) | 0;
}

/** The expected checksum sum over seqs 0..n-1 (every `step`-th one), computed from eventWords. */
export function expectedChecksum(n: number, step = 1): number {
  let h = 0;
  for (let s = 0; s < n; s += step) {
    const w = eventWords(s);
    let x = 0;
    for (let i = 0; i < 8; i++) x = (x + Math.imul(w[i]!, 2 * i + 1)) | 0;
    h = (h + x) | 0;
  }
  return h >>> 0;
}

export function seqCounter(): ArrayMap<bigint> {
  return BpfMap.create({ type: 'array', key: t.u32, value: t.u64, maxEntries: 1, name: 'seq' });
}

/** R7 = seq++ (from the counter map); jumps to 'out' if the lookup fails. Clobbers R0–R5. */
function nextSeq(seq: BpfMap): AsmItem[] {
  return [
    asm.stw(R10, -4, 0),
    asm.ldMapFd(R1, seq),
    asm.mov64(R2, R10),
    asm.add64(R2, -4),
    asm.call('map_lookup_elem'),
    asm.jeq(R0, 0, 'out'),
    asm.mov64(R7, 1),
    asm.atomicFetchAdd64(R0, 0, R7),
  ];
}

/** Writes the event for seq R7 at R(base)+off. Clobbers R8. */
function fillEvent(base: typeof R6, off: number): AsmItem[] {
  return [
    asm.stxdw(base, off + 0, R7),
    asm.stw(base, off + 8, 64),
    asm.stw(base, off + 12, 3),
    asm.mov64(R8, R7),
    asm.mul64(R8, 0x9e3779b1 | 0),
    asm.stxw(base, off + 16, R8),
    asm.mov64(R8, R7),
    asm.xor64(R8, 0x5a5a5a5a),
    asm.stxw(base, off + 20, R8),
    asm.stw(base, off + 24, 0x0800),
    asm.mov64(R8, R7),
    asm.and64(R8, 7),
    asm.stxw(base, off + 28, R8),
  ];
}

const EXIT = [asm.label('out'), asm.mov64(R0, 2), asm.exit()];

/** 'none' only numbers the run (the baseline for producer cost). */
export type ProducerMode = 'reserve' | 'output' | 'discard-odd' | 'varlen' | 'perf' | 'none';

/** An XDP program emitting one event per run. */
export function producer(opts: {
  mode: ProducerMode;
  seq: BpfMap;
  ring: BpfMap;
  dropCounter?: DropCounter;
  flags?: number;
}): Program {
  const { mode, seq, ring, dropCounter } = opts;
  const flags = opts.flags ?? 0;
  let body: AsmItem[];
  switch (mode) {
    case 'none':
      body = [];
      break;
    case 'reserve':
      body = [
        ...asmRingbufReserve({ ring, size: 32, dst: R6, dropCounter, onFail: 'out', stackOffset: -8 }),
        ...fillEvent(R6, 0),
        asm.mov64(R1, R6),
        asm.mov64(R2, flags),
        asm.call('ringbuf_submit'),
      ];
      break;
    case 'discard-odd':
      body = [
        ...asmRingbufReserve({ ring, size: 32, dst: R6, dropCounter, onFail: 'out', stackOffset: -8 }),
        ...fillEvent(R6, 0),
        asm.mov64(R1, R6),
        asm.mov64(R2, flags),
        asm.mov64(R8, R7),
        asm.and64(R8, 1),
        asm.jne(R8, 0, 'discard'),
        asm.call('ringbuf_submit'),
        asm.ja('out'),
        asm.label('discard'),
        asm.call('ringbuf_discard'),
      ];
      break;
    case 'output':
      body = [
        ...fillEvent(R10, -48),
        asm.mov64(R6, R10),
        asm.add64(R6, -48),
        ...asmRingbufOutput({ ring, data: R6, size: 32, flags, dropCounter, stackOffset: -8 }),
      ];
      break;
    case 'varlen': {
      // 4 + (seq & 15) * 4 bytes of words seq, seq+1, ...
      const fill: AsmItem[] = [asm.mov64(R8, R7)];
      for (let i = 0; i < 16; i++) fill.push(asm.stxw(R10, -72 + 4 * i, R8), asm.add64(R8, 1));
      body = [
        ...fill,
        asm.mov64(R6, R10),
        asm.add64(R6, -72),
        asm.mov64(R9, R7),
        asm.and64(R9, 15),
        asm.lsh64(R9, 2),
        asm.add64(R9, 4),
        ...asmRingbufOutput({ ring, data: R6, size: R9, flags, dropCounter, stackOffset: -8 }),
      ];
      break;
    }
    case 'perf':
      body = [
        ...fillEvent(R10, -48),
        asm.mov64(R1, R9),
        asm.ldMapFd(R2, ring),
        asm.mov32(R3, -1),
        asm.mov64(R4, R10),
        asm.add64(R4, -48),
        asm.mov64(R5, 32),
        asm.call('perf_event_output'),
        ...(dropCounter
          ? [
              asm.jsge(R0, 0, 'out'),
              asm.ldMapFd(R1, dropCounter.map),
              asm.stw(R10, -8, 0),
              asm.mov64(R2, R10),
              asm.add64(R2, -8),
              asm.call('map_lookup_elem'),
              asm.jeq(R0, 0, 'out'),
              asm.mov64(R1, 1),
              asm.atomicAdd64(R0, 0, R1),
            ]
          : []),
      ];
      break;
  }
  return Program.load({
    type: 'xdp',
    name: `ev_${mode.replace('-', '_')}`,
    instructions: [asm.mov64(R9, R1), ...nextSeq(seq), ...body, ...EXIT],
  });
}

/** Runs the producer `repeat` times on a 64-byte packet. */
export function produce(prog: Program, repeat: number): void {
  prog.testRun({ data: new Uint8Array(64), repeat, dataOutSize: 0 });
}
