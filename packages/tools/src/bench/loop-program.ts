/**
 * In-kernel cost measurement for the `maps`, `helpers` and `percpu` suites: a raw_tracepoint
 * program that runs a body in a `may_goto` loop, test-run once per sample, timed by the kernel's own
 * BPF run-time stats. Cost per operation = (loop with body − loop with an empty body) / iterations.
 *
 * raw_tracepoint because it is the one test-runnable type that has the tracing helpers
 * (get_current_comm, probe_read_kernel…) and honours BPF_F_TEST_RUN_ON_CPU; it takes no `repeat`, so
 * the loop lives in the program. `may_goto` (Linux 6.9+) instead of bpf_loop because bpf_loop's
 * callback needs BTF func_info; the trip count comes from the context so the verifier sees a loop
 * it can prove bounded without unrolling it.
 */
import { asm, R0, R1, R6, R7, R9, type AsmInput } from 'tsbpf';
import { Program } from 'tsbpf';

/**
 * Registers a loop body may rely on: R6 = the iteration's key, cycling through 0..mask (an unknown
 * scalar to the verifier, so map lookups are not constant-folded); R8 is the body's own
 * (callee-saved, set up by `prologue`); R9 starts at 0 and is the program's return value (bodies
 * count successes in it, so a run can be checked). R0–R5 are scratch; R7 is the loop counter.
 */
export interface LoopSpec {
  /** Instructions run once per iteration. */
  body: AsmInput;
  /** Run once before the loop (e.g. fetch a map value pointer into R8). */
  prologue?: AsmInput;
  /** Keys cycle through 0..mask (a power of two minus one). Default 1023. */
  mask?: number;
  name?: string;
}

/** Loads a loop program (raw_tracepoint). Its context is [iterations u64, start key u64]. */
export function loadLoopProgram(spec: LoopSpec): Program {
  const mask = spec.mask ?? 1023;
  if (!Number.isInteger(mask) || mask < 0 || ((mask + 1) & mask) !== 0)
    throw new RangeError(`loop mask must be 2^k - 1, got ${mask}`);
  return Program.load({
    type: 'raw_tracepoint',
    name: spec.name ?? 'bench_loop',
    instructions: [
      asm.ldxdw(R7, R1, 0),
      asm.ldxdw(R6, R1, 8),
      asm.and64(R6, mask),
      asm.mov64(R9, 0),
      spec.prologue ?? [],
      asm.label('top'),
      asm.mayGoto('out'),
      asm.jeq(R7, 0, 'out'),
      asm.sub64(R7, 1),
      asm.add64(R6, 1),
      asm.and64(R6, mask),
      spec.body,
      asm.ja('top'),
      asm.label('out'),
      asm.mov64(R0, R9),
      asm.exit(),
    ],
  });
}

/** The context for `iterations` iterations starting at key `start`. */
export function loopContext(iterations: number, start = 0): Uint8Array {
  const ctx = new Uint8Array(16);
  const v = new DataView(ctx.buffer);
  v.setUint32(0, iterations >>> 0, true);
  v.setUint32(8, start >>> 0, true);
  return ctx;
}

/** Runs the loop once (optionally on `cpu`); returns the program's return value (R9). */
export function runLoop(prog: Program, ctx: Uint8Array, cpu?: number): number {
  return prog.testRun({ ctx, ctxOutSize: 0, dataOutSize: 0, repeat: 0, cpu }).retval;
}

/** One timed run: kernel-measured ns per iteration and the program's return value. */
export interface LoopSample {
  nsPerIteration: number;
  retval: number;
}

/**
 * Runs the loop once and times it with the kernel's run-time stats (Program.enableStats() must be
 * active); falls back to wall-clock time around the syscall when the stats do not advance.
 */
export function sampleLoop(prog: Program, ctx: Uint8Array, iterations: number, cpu?: number): LoopSample {
  const before = prog.info();
  const t0 = process.hrtime.bigint();
  const retval = runLoop(prog, ctx, cpu);
  const wall = Number(process.hrtime.bigint() - t0);
  const after = prog.info();
  const ns = after.runCount > before.runCount ? after.runTimeNs - before.runTimeNs : wall;
  return { nsPerIteration: ns / iterations, retval };
}
