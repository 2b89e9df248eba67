/**
 * Loads the generated function BTF for an assembled program (see pure/asm-func-btf.ts), so callbacks
 * (`bpf_loop`, `bpf_for_each_map_elem`, timers) pass the verifier's func_info requirement without clang.
 */
import { programFuncBtf } from '../pure/asm-func-btf.js';
import { BtfLoadError, loadRawBtf } from './btf-load.js';
import type { OwnedFd } from './syscall.js';

/** BTF to pass to BPF_PROG_LOAD, with the fd that owns it (close it once the program is loaded). */
export interface GeneratedFuncBtf {
  owned: OwnedFd;
  btf: { fd: number; funcInfo: Uint8Array; funcInfoRecSize: number; funcInfoCount: number };
}

/**
 * Generates and loads BTF + func_info for `insns` when they contain subprograms; undefined when they have none,
 * or when this kernel refuses the BTF (then the program loads as before: plain bpf-to-bpf calls still work,
 * and callbacks get the verifier's own "missing btf func_info" error).
 */
export function loadGeneratedFuncBtf(
  insns: Uint8Array,
  labels: ReadonlyMap<string, number>,
  mainName: string,
): GeneratedFuncBtf | undefined {
  const gen = programFuncBtf(insns, { labels, mainName });
  if (!gen) return undefined;
  let owned: OwnedFd;
  try {
    owned = loadRawBtf(gen.btf, 'generated function BTF');
  } catch (e) {
    if (e instanceof BtfLoadError) return undefined;
    throw e;
  }
  return {
    owned,
    btf: {
      fd: owned.fd,
      funcInfo: gen.funcInfo,
      funcInfoRecSize: gen.funcInfoRecSize,
      funcInfoCount: gen.funcs.length,
    },
  };
}
