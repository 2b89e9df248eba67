/**
 * Static linking of one BPF program out of a relocatable object: copy its function, append the `.text`
 * subprograms it calls (bpf-to-bpf calls and callback references, transitively), rebase their call immediates,
 * record the `ld_imm64` relocations (maps, global data, externs) at their final positions, and move the
 * `.BTF.ext` func_info / line_info / CO-RE records along. Pure: bytes in, bytes and records out.
 */
import {
  SHF_EXECINSTR,
  SHN_UNDEF,
  STT_FUNC,
  type Elf,
  type ElfRelocation,
  type ElfSection,
  type ElfSymbol,
} from './elf.js';
import type { BtfCoreRelo, BtfExt, BtfLineInfo } from './btf-ext.js';
import type { CoreReloResult } from './core-relo.js';
import { BpfObjectError } from './errors.js';
import { CLASS, INSN_SIZE, JMP_OP, LD_IMM64, PSEUDO, PSEUDO_CALL } from './insn.js';

const SHT_RELA = 4;
const SHT_REL = 9;
const OP_CALL = CLASS.jmp | JMP_OP.call;
const OP_LD_IMM64 = LD_IMM64;
/** BPF_PSEUDO_FUNC: ld_imm64 of a subprogram's address (callbacks). */
const PSEUDO_FUNC = PSEUDO.func;
const STT_OBJECT = 1;

/**
 * A relocated `ld_imm64` or call of a linked program (instruction index in the linked program):
 * - `map`: the fd of map `map` (BPF_PSEUDO_MAP_FD);
 * - `data`: address `offset` inside the value of the global data map `map` (BPF_PSEUDO_MAP_VALUE);
 * - `extern`: address of extern variable `extern` plus `offset` (`.kconfig` → the `.kconfig` map, `.ksyms` →
 *   a kernel symbol), resolved at load;
 * - `kfunc`: a call of extern function `extern` (a kfunc), resolved at load.
 */
export type InsnRelocation =
  | { kind: 'map'; insn: number; map: string }
  | { kind: 'data'; insn: number; map: string; offset: number }
  | { kind: 'extern'; insn: number; extern: string; offset: number }
  | { kind: 'kfunc'; insn: number; extern: string };

/** A func_info record at its linked position. */
export interface FuncInfoRecord {
  insn: number;
  typeId: number;
}
/** A line_info record at its linked position (string offsets into the object BTF). */
export interface LineInfoRecord {
  insn: number;
  fileNameOff: number;
  lineOff: number;
  line: number;
  column: number;
  record: BtfLineInfo;
}
/** A CO-RE relocation at its linked position; `result` once resolved against a target BTF. */
export interface CoreRecord {
  insn: number;
  relo: BtfCoreRelo;
  result?: CoreReloResult;
}

/** A function of an executable section. */
export interface FuncUnit {
  section: ElfSection;
  name: string;
  start: number;
  len: number;
  symbol: ElfSymbol;
}
/** Relocations of executable sections: target section index → byte offset → relocation and its symbol. */
export type RelocationTable = Map<number, Map<number, { rel: ElfRelocation; sym: ElfSymbol }>>;

/** A linked program: instructions and records, positions in instructions (8-byte units). */
export interface LinkedProgram {
  instructions: Uint8Array;
  functions: string[];
  /** Function name → first instruction in the linked program. */
  offsets: Record<string, number>;
  relocations: InsnRelocation[];
  funcInfo: FuncInfoRecord[] | undefined;
  lineInfo: LineInfoRecord[] | undefined;
  core: CoreRecord[];
}

/** Turns a data/map/extern symbol reference into a relocation record (throws BpfObjectError when it is neither). */
export type SymbolResolver = (sym: ElfSymbol, imm: number, insn: number, where: string) => InsnRelocation;

/** Function symbols per executable section, sorted, with sizes (an unsized symbol runs to the next one). */
export function functionsOf(elf: Elf, symbols: readonly ElfSymbol[]): Map<number, FuncUnit[]> {
  const out = new Map<number, FuncUnit[]>();
  for (const s of symbols) {
    if (s.type !== STT_FUNC || s.shndx === SHN_UNDEF || s.shndx >= elf.sections.length) continue;
    const sec = elf.sections[s.shndx]!;
    if (!(sec.flags & SHF_EXECINSTR)) continue;
    if (s.value % INSN_SIZE !== 0 || s.value >= sec.size)
      throw new BpfObjectError(
        `function '${s.name}' at offset ${s.value} is outside or misaligned in section '${sec.name}' (${sec.size} bytes)`,
      );
    const list = out.get(sec.index) ?? [];
    list.push({ section: sec, name: s.name, start: s.value / INSN_SIZE, len: s.size / INSN_SIZE, symbol: s });
    out.set(sec.index, list);
  }
  for (const list of out.values()) {
    list.sort((a, b) => a.start - b.start);
    for (let i = 0; i < list.length; i++) {
      const f = list[i]!;
      const end = i + 1 < list.length ? list[i + 1]!.start : f.section.size / INSN_SIZE;
      if (f.len === 0 || f.start + f.len > end) f.len = end - f.start;
      if (f.len <= 0) throw new BpfObjectError(`function '${f.name}' in '${f.section.name}' is empty`);
    }
  }
  return out;
}

/** Relocations of the executable sections, by target section and byte offset. */
export function relocationsOf(elf: Elf): RelocationTable {
  const out: RelocationTable = new Map();
  for (const s of elf.sections) {
    if (s.type !== SHT_REL && s.type !== SHT_RELA) continue;
    if (s.info >= elf.sections.length)
      throw new BpfObjectError(`relocation section '${s.name}' targets section ${s.info}, which does not exist`);
    const target = elf.sections[s.info]!;
    if (!(target.flags & SHF_EXECINSTR)) continue;
    const rs = elf.relocationsOf(s);
    const syms = elf.symbolsOf(rs.symtab);
    const m = new Map<number, { rel: ElfRelocation; sym: ElfSymbol }>();
    for (const rel of rs.relocations) {
      if (rel.offset % INSN_SIZE !== 0 || rel.offset + INSN_SIZE > target.size) {
        throw new BpfObjectError(
          `bad relocation in '${s.name}': offset ${rel.offset} is not an instruction of '${target.name}' (${target.size} bytes)`,
        );
      }
      m.set(rel.offset, { rel, sym: syms[rel.symbolIndex]! });
    }
    out.set(target.index, m);
  }
  return out;
}

/**
 * Links program `main`: appends every function it reaches through calls or function references (in first-use
 * order, like libbpf), patches their relative offsets, records other relocations through `resolve`.
 */
export function linkProgram(
  main: FuncUnit,
  funcs: Map<number, FuncUnit[]>,
  relocs: RelocationTable,
  text: ElfSection | undefined,
  btfExt: BtfExt | undefined,
  resolve: SymbolResolver,
): LinkedProgram {
  const placed = new Map<FuncUnit, number>([[main, 0]]);
  const order: FuncUnit[] = [main];
  let total = main.len;
  const relocations: InsnRelocation[] = [];
  const chunks: Uint8Array[] = [];
  const funcAt = (sec: ElfSection, idx: number): FuncUnit | undefined =>
    (funcs.get(sec.index) ?? []).find((f) => idx >= f.start && idx < f.start + f.len);
  for (let u = 0; u < order.length; u++) {
    const fn = order[u]!;
    const base = placed.get(fn)!;
    const insns = fn.section.data.slice(fn.start * INSN_SIZE, (fn.start + fn.len) * INSN_SIZE);
    if (insns.length !== fn.len * INSN_SIZE)
      throw new BpfObjectError(`function '${fn.name}' overruns section '${fn.section.name}'`);
    const v = new DataView(insns.buffer, insns.byteOffset, insns.byteLength);
    const rels = relocs.get(fn.section.index);
    for (let i = 0; i < fn.len; i++) {
      const at = i * INSN_SIZE;
      const code = insns[at]!;
      const src = insns[at + 1]! >> 4;
      const imm = v.getInt32(at + 4, true);
      const r = rels?.get((fn.start + i) * INSN_SIZE);
      const where = `${fn.section.name}+${(fn.start + i) * INSN_SIZE} in '${fn.name}'`;
      const isCall = code === OP_CALL && src === PSEUDO_CALL;
      const isFuncAddr = code === OP_LD_IMM64 && src === PSEUDO_FUNC;
      // A call (or callback address) of an extern function: a kfunc, resolved at load.
      if (code === OP_CALL && r && r.sym.shndx === SHN_UNDEF) {
        relocations.push({ kind: 'kfunc', insn: base + i, extern: r.sym.name });
        continue;
      }
      if (
        isCall ||
        (isFuncAddr && !r) ||
        (code === OP_LD_IMM64 && r && text && r.sym.shndx === text.index && r.sym.type !== STT_OBJECT)
      ) {
        let tsec = fn.section;
        let tidx: number;
        if (r) {
          if (!text || r.sym.shndx !== text.index)
            throw new BpfObjectError(
              `bad relocation at ${where}: call to '${r.sym.name}', which is not a .text function`,
            );
          tsec = text;
          tidx = code === OP_CALL ? r.sym.value / INSN_SIZE + imm + 1 : (r.sym.value + imm) / INSN_SIZE;
        } else {
          tidx = fn.start + i + imm + 1;
        }
        const target = funcAt(tsec, tidx);
        if (!target)
          throw new BpfObjectError(
            `bad ${code === OP_CALL ? 'call' : 'function reference'} at ${where}: instruction ${tidx} of '${tsec.name}' is not inside any function`,
          );
        if (!placed.has(target)) {
          placed.set(target, total);
          order.push(target);
          total += target.len;
        }
        const rel = placed.get(target)! + (tidx - target.start) - (base + i) - 1;
        v.setInt32(at + 4, rel, true);
        if (code === OP_LD_IMM64) {
          insns[at + 1] = (insns[at + 1]! & 0x0f) | (PSEUDO_FUNC << 4);
          i++;
        }
        continue;
      }
      if (code === OP_CALL && src === 0 && r) {
        throw new BpfObjectError(`bad relocation at ${where}: helper call against symbol '${r.sym.name}'`);
      }
      if (!r) {
        if (code === OP_LD_IMM64) i++;
        continue;
      }
      if (code !== OP_LD_IMM64)
        throw new BpfObjectError(
          `bad relocation at ${where}: relocation against '${r.sym.name}' on an instruction that is not ld_imm64 (opcode 0x${code.toString(16)})`,
        );
      if (i + 1 >= fn.len) throw new BpfObjectError(`bad relocation at ${where}: ld_imm64 is truncated`);
      relocations.push(resolve(r.sym, imm, base + i, where));
      i++;
    }
    chunks.push(insns);
  }
  const instructions = new Uint8Array(total * INSN_SIZE);
  for (const [k, fn] of order.entries()) instructions.set(chunks[k]!, placed.get(fn)! * INSN_SIZE);

  // .BTF.ext records, moved to the final instruction positions.
  let funcInfo: FuncInfoRecord[] | undefined;
  let lineInfo: LineInfoRecord[] | undefined;
  const core: CoreRecord[] = [];
  if (btfExt) {
    funcInfo = [];
    lineInfo = [];
    for (const fn of order) {
      const base = placed.get(fn)!;
      const lo = fn.start * INSN_SIZE,
        hi = (fn.start + fn.len) * INSN_SIZE;
      const fi = btfExt.funcInfoFor(fn.section.name).find((r) => r.insnOff === lo);
      if (!fi) funcInfo = undefined;
      else funcInfo?.push({ insn: base, typeId: fi.typeId });
      for (const l of btfExt.lineInfoFor(fn.section.name)) {
        if (l.insnOff >= lo && l.insnOff < hi)
          lineInfo.push({
            insn: base + (l.insnOff - lo) / INSN_SIZE,
            fileNameOff: l.fileNameOff,
            lineOff: l.lineOff,
            line: l.line,
            column: l.column,
            record: l,
          });
      }
      for (const c of btfExt.coreRelosFor(fn.section.name)) {
        if (c.insnOff >= lo && c.insnOff < hi) core.push({ insn: base + (c.insnOff - lo) / INSN_SIZE, relo: c });
      }
    }
    if (!funcInfo || funcInfo.length === 0) {
      funcInfo = undefined;
      lineInfo = undefined;
    } else lineInfo.sort((a, b) => a.insn - b.insn);
  }
  const offsets: Record<string, number> = Object.create(null);
  for (const fn of order) offsets[fn.name] = placed.get(fn)!;
  return { instructions, functions: order.map((f) => f.name), offsets, relocations, funcInfo, lineInfo, core };
}
