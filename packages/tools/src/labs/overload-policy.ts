/**
 * `--overload drop|sample` for the trace commands. `drop` (the default) is what a ring buffer does by
 * itself: when it is full, new events are lost and counted. `sample` puts tsbpf's overload gate
 * (asmOverloadGate) in front of each reservation: as the ring fills, low-priority events are kept 1 in N,
 * N doubling with the fill level, and high-priority events are always sent — each command says which
 * events are which. Events sampled away are counted apart from those lost.
 */
import { asm, asmOverloadGate, DropCounter, OverloadGuard, R1, R2, type AsmInput, type MapRef, type Reg } from 'tsbpf';

export type OverloadMode = 'drop' | 'sample';
export const OVERLOAD_MODES: readonly OverloadMode[] = ['drop', 'sample'];

/** The per-CPU counters of a tracer: a plain drop counter, or the overload policy's state (which counts drops too). */
export function lossCounter(mode: OverloadMode, name: string): DropCounter | OverloadGuard {
  return mode === 'sample' ? OverloadGuard.create(name) : DropCounter.create(name);
}

/** The gate for one event, or nothing in `drop` mode. See asmOverloadGate for registers and stack. */
export interface Gate {
  guard: OverloadGuard;
  ringSize: number;
}

/** Instructions that admit or sample away the event; `priority` 0 = high (see asmOverloadGate). */
export function gateItems(
  gate: Gate | undefined,
  ring: MapRef,
  priority: 'high' | 'low' | Reg,
  onSkip: string,
  stackOffset: number,
): AsmInput[] {
  if (!gate) return [];
  return asmOverloadGate({ guard: gate.guard, ring, ringSize: gate.ringSize, priority, onSkip, stackOffset });
}

/** R2 = 0 (high priority) when R1 is negative (a failed syscall), else 1. Clobbers R2. */
export function highWhenNegative(labelPrefix: string): AsmInput[] {
  return [asm.mov64(R2, 1), asm.jsge(R1, 0, `${labelPrefix}_prio`), asm.mov64(R2, 0), asm.label(`${labelPrefix}_prio`)];
}

/** R2 = 0 (high priority) when R1 has any bit of `mask`, else 1. Clobbers R2. */
export function highWhenAnyBit(mask: number, labelPrefix: string): AsmInput[] {
  return [
    asm.mov64(R2, 0),
    asm.jset(R1, mask, `${labelPrefix}_prio`),
    asm.mov64(R2, 1),
    asm.label(`${labelPrefix}_prio`),
  ];
}

/** What the summary reports about the policy. */
export function overloadSummary(counter: DropCounter | OverloadGuard): { sampledOut?: number; keepOneIn?: number } {
  return counter instanceof OverloadGuard ? { sampledOut: counter.sampledOut, keepOneIn: counter.keepOneIn } : {};
}
