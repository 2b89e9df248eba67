/**
 * Instruction patching for `__ksym` externs, as libbpf's bpf_object__relocate_data / RELO_EXTERN_CALL:
 * - a typed ksym (`extern const struct rq runqueues __ksym;`) or a kfunc used as a value (`bpf_ksym_exists(fn)`)
 *   becomes an `ld_imm64` BPF_PSEUDO_BTF_ID load: imm = BTF id in the kernel (or module) BTF, second slot's imm =
 *   that BTF object's fd (0 for vmlinux);
 * - an untyped ksym (`extern const void sym __ksym;`) becomes its kallsyms address; an unresolved `__weak` ksym
 *   becomes 0, so `bpf_ksym_exists()` is false and the verifier prunes the guarded branch;
 * - a kfunc call gets src_reg BPF_PSEUDO_KFUNC_CALL, imm = BTF id and off = index of its module BTF fd in the
 *   program's fd_array (0: vmlinux); an unresolved `__weak` kfunc call is poisoned (the verifier complains only if
 *   it is reachable, which `bpf_ksym_exists()` prevents).
 * Pure: works on instruction bytes.
 */
import { BpfObjectError } from './errors.js';
import { CLASS, INSN_SIZE, JMP_OP, LD_IMM64, PSEUDO, PSEUDO_KFUNC_CALL } from './insn.js';

/** Where a `__ksym` extern resolved to. */
export type KsymResolution =
  /** A kernel BTF object (VAR or FUNC): `btfId` in the BTF whose fd is `btfObjFd` (0: vmlinux) at `fdIndex` of fd_array (0: vmlinux). */
  | { kind: 'btf'; btfId: number; btfObjFd: number; fdIndex: number }
  /** An address (kallsyms for untyped ksyms; 0 for an unresolved weak one). */
  | { kind: 'addr'; addr: bigint }
  /** An unresolved weak kfunc: calls are poisoned, loads of its address give 0. */
  | { kind: 'missing' };

/**
 * libbpf poisons an unresolved weak kfunc call with a helper call to `POISON_CALL_KFUNC_BASE + extern index`, which no
 * helper has; the verifier rejects it only when reachable.
 */
export const KFUNC_POISON_BASE = 2002000000;

const CALL = CLASS.jmp | JMP_OP.call;

function view(insns: Uint8Array): DataView {
  return new DataView(insns.buffer, insns.byteOffset, insns.byteLength);
}

/** Patches the `ld_imm64` at `insn` that loads the address of a `__ksym` extern. */
export function patchKsymLoad(insns: Uint8Array, insn: number, res: KsymResolution, what: string): void {
  const at = insn * INSN_SIZE;
  if (insn < 0 || at + 2 * INSN_SIZE > insns.length || insns[at] !== LD_IMM64) {
    throw new BpfObjectError(
      `${what}: instruction ${insn} is not an ld_imm64 (opcode 0x${(insns[at] ?? 0).toString(16)})`,
    );
  }
  const v = view(insns);
  const dst = insns[at + 1]! & 0x0f;
  if (res.kind === 'btf') {
    insns[at + 1] = dst | (PSEUDO.btf_id << 4);
    v.setInt32(at + 4, res.btfId, true);
    v.setInt32(at + INSN_SIZE + 4, res.btfObjFd, true);
    return;
  }
  const addr = res.kind === 'addr' ? BigInt.asUintN(64, res.addr) : 0n;
  insns[at + 1] = dst;
  v.setUint32(at + 4, Number(addr & 0xffffffffn), true);
  v.setUint32(at + INSN_SIZE + 4, Number(addr >> 32n), true);
}

/** Patches the `call` at `insn` of a kfunc; `externIndex` makes a poisoned call identifiable in the verifier log. */
export function patchKfuncCall(
  insns: Uint8Array,
  insn: number,
  res: KsymResolution,
  externIndex: number,
  what: string,
): void {
  const at = insn * INSN_SIZE;
  if (insn < 0 || at + INSN_SIZE > insns.length || insns[at] !== CALL) {
    throw new BpfObjectError(`${what}: instruction ${insn} is not a call (opcode 0x${(insns[at] ?? 0).toString(16)})`);
  }
  const v = view(insns);
  if (res.kind === 'btf') {
    insns[at + 1] = PSEUDO_KFUNC_CALL << 4;
    v.setInt16(at + 2, res.fdIndex, true);
    v.setInt32(at + 4, res.btfId, true);
    return;
  }
  // Unresolved weak kfunc: a plain helper call to a helper that does not exist.
  insns[at + 1] = 0;
  v.setInt16(at + 2, 0, true);
  v.setInt32(at + 4, KFUNC_POISON_BASE + externIndex, true);
}

/**
 * Parses /proc/kallsyms text into addresses for `wanted` names (first definition wins, as libbpf; module symbols
 * `name [mod]` included).
 */
export function parseKallsyms(text: string, wanted?: ReadonlySet<string>): Map<string, bigint> {
  const out = new Map<string, bigint>();
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    const sp1 = line.indexOf(' ');
    const sp2 = sp1 < 0 ? -1 : line.indexOf(' ', sp1 + 1);
    if (sp2 < 0) continue;
    let name = line.slice(sp2 + 1);
    const tab = name.indexOf('\t');
    if (tab >= 0) name = name.slice(0, tab);
    if ((wanted && !wanted.has(name)) || out.has(name)) continue;
    out.set(name, BigInt(`0x${line.slice(0, sp1)}`));
  }
  return out;
}
