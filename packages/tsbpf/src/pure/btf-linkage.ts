/**
 * Hidden global subprograms (`__hidden`, i.e. `__attribute__((visibility("hidden")))`, as in libbpf's usdt.bpf.h)
 * are marked static in the BTF handed to the kernel, as libbpf does (bpf_object__add_programs sets
 * `mark_btf_static`, bpf_object__sanitize_and_load_btf applies it). The verifier checks a global function on its
 * own, knowing nothing of its callers' arguments; a static one is verified in its callers' context, which is what
 * the author of a hidden helper expects. Pure: works on ELF symbols and Btf objects.
 */
import { BTF_FUNC_GLOBAL, BTF_FUNC_STATIC, type Btf } from './btf.js';
import type { ElfSymbol } from './elf.js';

const STT_FUNC = 2;
const STB_LOCAL = 0;
const STV_INTERNAL = 1;
const STV_HIDDEN = 2;
const BTF_KIND_FUNC = 12;

/** Names of global/weak functions with hidden or internal visibility defined in section `textIndex` (`.text`: subprograms). */
export function hiddenSubprograms(symbols: readonly ElfSymbol[], textIndex: number): string[] {
  return symbols
    .filter(
      (s) =>
        s.type === STT_FUNC &&
        s.shndx === textIndex &&
        s.bind !== STB_LOCAL &&
        (s.visibility === STV_HIDDEN || s.visibility === STV_INTERNAL),
    )
    .map((s) => s.name);
}

/** Gives BTF FUNCs named in `names` with global linkage static linkage, in place. Returns how many changed. */
export function markFuncsStatic(btf: Btf, names: Iterable<string>): number {
  const want = new Set(names);
  if (want.size === 0) return 0;
  let n = 0;
  for (const t of btf.types) {
    if (t.kind !== BTF_KIND_FUNC || t.linkage !== BTF_FUNC_GLOBAL || !want.has(t.name)) continue;
    (t as { linkage: number }).linkage = BTF_FUNC_STATIC;
    want.delete(t.name); // libbpf changes the first match only
    n++;
  }
  return n;
}
