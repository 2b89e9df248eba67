/**
 * Minimal BTF and func_info for assembled programs with subprograms. The verifier refuses callbacks
 * (`ld_imm64` BPF_PSEUDO_FUNC for `bpf_loop`, `bpf_for_each_map_elem`, timers) unless the program carries
 * BTF func_info naming a static function at every subprogram start; clang emits it, hand-assembled code
 * has none, so tsbpf generates it: one INT-returning FUNC_PROTO and one static FUNC per function.
 */
import { BTF_FUNC_STATIC } from './btf.js';
import { BtfBuilder, sanitizeIdentifier } from './btf-builder.js';
import { encodeFuncInfo } from './btf-ext.js';
import { CLASS, INSN_SIZE, JMP_OP, LD_IMM64, PSEUDO, PSEUDO_CALL } from './insn.js';

/**
 * Slot indexes where functions start, as the kernel's `add_subprog_and_kfunc` finds them: 0, then every
 * target of a bpf-to-bpf call (`call` with src_reg BPF_PSEUDO_CALL) or of an `ld_imm64` BPF_PSEUDO_FUNC.
 * Sorted, unique; targets outside the program are left out (the verifier reports those itself).
 */
export function subprogramStarts(insns: Uint8Array): number[] {
  if (insns.byteLength % INSN_SIZE !== 0)
    throw new RangeError(`tsbpf: instructions must be a multiple of 8 bytes, got ${insns.byteLength}`);
  const v = new DataView(insns.buffer, insns.byteOffset, insns.byteLength);
  const n = insns.byteLength / INSN_SIZE;
  const starts = new Set<number>([0]);
  for (let i = 0; i < n; i++) {
    const code = insns[i * INSN_SIZE]!;
    const src = insns[i * INSN_SIZE + 1]! >> 4;
    const isCall = code === (CLASS.jmp | JMP_OP.call) && src === PSEUDO_CALL;
    const isFunc = code === LD_IMM64 && src === PSEUDO.func;
    if (!isCall && !isFunc) continue;
    const target = i + v.getInt32(i * INSN_SIZE + 4, true) + 1;
    if (target >= 0 && target < n) starts.add(target);
  }
  return [...starts].sort((a, b) => a - b);
}

/** One function described by {@link programFuncBtf}. */
export interface ProgramFunc {
  /** First slot of the function. */
  insn: number;
  /** Its BTF name (a sanitised label, or the program name / `main` for slot 0). */
  name: string;
  /** BTF_KIND_FUNC id. */
  typeId: number;
}

/** What {@link programFuncBtf} produces for BPF_BTF_LOAD and BPF_PROG_LOAD. */
export interface ProgramFuncBtf {
  /** Raw BTF blob (load with BPF_BTF_LOAD). */
  btf: Uint8Array;
  /** Kernel `struct bpf_func_info` records, 8 bytes each, in instruction order. */
  funcInfo: Uint8Array;
  funcInfoRecSize: 8;
  funcs: ProgramFunc[];
}

export interface ProgramFuncBtfOptions {
  /** Label → slot index (from `assembleProgram`), to name subprograms after their labels. */
  labels?: ReadonlyMap<string, number>;
  /** Name of the function at slot 0; default 'main'. */
  mainName?: string;
}

/**
 * BTF and func_info for a program's functions, or undefined when it has no subprograms (nothing to describe).
 *
 * Types: `[1] int`, `[2] long`, `[3] void *`, `[4] int (*)(void *ctx)` for the entry, `[5] long (*)(void)` for
 * subprograms, then one static FUNC per function. Static linkage keeps every subprogram verified in its
 * caller's context (global functions would be verified on their own against their prototype), and the
 * verifier only checks static prototypes loosely (return type a scalar, at most 5 arguments); an empty
 * parameter list keeps it from logging mismatches between register types and declared arguments.
 */
export function programFuncBtf(insns: Uint8Array, opts: ProgramFuncBtfOptions = {}): ProgramFuncBtf | undefined {
  const starts = subprogramStarts(insns);
  if (starts.length < 2) return undefined;
  const labelAt = new Map<number, string>();
  for (const [name, slot] of opts.labels ?? []) if (!labelAt.has(slot)) labelAt.set(slot, name);

  const b = new BtfBuilder();
  const int = b.addInt('int', 4, { signed: true });
  const long = b.addInt('long', 8, { signed: true });
  const voidPtr = b.addPtr(0);
  const mainProto = b.addFuncProto(int, [{ name: 'ctx', type: voidPtr }]);
  const subProto = b.addFuncProto(long, []);
  const used = new Set<string>();
  const funcs: ProgramFunc[] = starts.map((insn) => {
    const base = sanitizeIdentifier(insn === 0 ? opts.mainName || 'main' : (labelAt.get(insn) ?? `sub_${insn}`));
    let name = base;
    for (let k = 2; used.has(name); k++) name = `${base}_${k}`;
    used.add(name);
    return { insn, name, typeId: b.addFunc(name, insn === 0 ? mainProto : subProto, BTF_FUNC_STATIC) };
  });
  return {
    btf: b.encode(),
    funcInfo: encodeFuncInfo(funcs.map((f) => ({ insnOff: f.insn * INSN_SIZE, typeId: f.typeId }))),
    funcInfoRecSize: 8,
    funcs,
  };
}
