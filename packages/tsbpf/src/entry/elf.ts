/**
 * `tsbpf/elf`: a bounds-checked ELF64 reader (sections, symbols, relocations, program headers) with the
 * ELF and BPF relocation constants. Pure: never loads the native addon.
 *
 * @packageDocumentation
 * @module tsbpf/elf
 */
export {
  Elf, ElfError, machineName, findFunctionSymbol, symbolFileOffset, vaddrToFileOffset,
  ET_REL, ET_EXEC, ET_DYN, EM_X86_64, EM_AARCH64, EM_BPF,
  SHT_NULL, SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_RELA, SHT_NOBITS, SHT_REL, SHT_DYNSYM, SHT_LLVM_ADDRSIG,
  SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR, SHN_UNDEF, SHN_LORESERVE, SHN_ABS, SHN_COMMON, SHN_XINDEX,
  STB_LOCAL, STB_GLOBAL, STB_WEAK, STT_NOTYPE, STT_OBJECT, STT_FUNC, STT_SECTION, STT_FILE, STT_GNU_IFUNC,
  PT_LOAD, PF_X, PF_W, PF_R,
  R_BPF_NONE, R_BPF_64_64, R_BPF_64_ABS64, R_BPF_64_ABS32, R_BPF_64_NODYLD32, R_BPF_64_32,
} from '../pure/elf.js';
export type {
  ElfErrorCode, ElfHeader, ElfSection, ElfProgramHeader, ElfSymbol, ElfRelocation, ElfRelocationSection, ElfParseOptions, ElfFunctionSymbol,
} from '../pure/elf.js';
export { TsbpfError } from '../pure/errors.js';
