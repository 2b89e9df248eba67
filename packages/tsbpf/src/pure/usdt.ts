/**
 * USDT (statically defined user tracepoints, `<sys/sdt.h>` / `STAP_PROBEn`): the pure half. Reads the
 * `.note.stapsdt` notes of an executable or shared library, turns each probe site's virtual address (and its
 * semaphore's) into the file offsets the uprobe PMU takes, decodes the argument specs (`-4@%eax`,
 * `8@-8(%rbp)`, `-4@$5`, `1@-96(%rbp,%rax,8)`; arm64 `-4@[sp, 96]`, `8@x1`), and encodes them as the
 * `struct __bpf_usdt_spec` values libbpf's `<bpf/usdt.bpf.h>` reads from its `__bpf_usdt_specs` map.
 * No kernel, no filesystem: the kernel half is kernel/attach-usdt.ts.
 */
import { type Elf, EM_AARCH64, EM_X86_64, ET_DYN, ET_EXEC, PF_X, PT_LOAD } from './elf.js';
import { TsbpfError } from './errors.js';

/** A malformed `.note.stapsdt`, an argument spec tsbpf cannot decode, or a probe the binary lacks. */
export class UsdtError extends TsbpfError {
  override readonly name = 'UsdtError';
  readonly code = 'ERR_USDT';
}

/** Section holding the probe notes (non-allocated SHT_NOTE). */
export const USDT_NOTE_SECTION = '.note.stapsdt';
/** One-byte marker section used to undo prelink's address shifts. */
export const USDT_BASE_SECTION = '.stapsdt.base';
/** Where `<sys/sdt.h>` puts the semaphores (2-byte counters the kernel bumps while a uprobe is attached). */
export const USDT_SEMAPHORE_SECTION = '.probes';
const NT_STAPSDT = 3;
const NOTE_OWNER = 'stapsdt';
const NOTE_ADDRS = 24; // three 8-byte addresses: location, base, semaphore

/** libbpf's BPF_USDT_MAX_ARG_CNT / USDT_MAX_ARG_CNT: the spec has room for this many arguments. */
export const USDT_MAX_ARGS = 12;

/** One `.note.stapsdt` record as written by the assembler. */
export interface UsdtNote {
  provider: string;
  name: string;
  /** Argument spec string, e.g. `-4@%edi 8@-8(%rbp) -4@$5` ('' for none). */
  args: string;
  /** Link-time address of the probe's nop. */
  location: number;
  /** Link-time address of `.stapsdt.base` (0 when absent). */
  base: number;
  /** Link-time address of the semaphore (0 when the probe has none). */
  semaphore: number;
}

/** A probe site resolved to what a uprobe needs. */
export interface UsdtSite extends UsdtNote {
  /** Virtual address of the nop after prelink compensation (the IP the uprobe sees in an ET_EXEC). */
  address: number;
  /** File offset of the nop (uprobe PMU config2). */
  fileOffset: number;
  /** File offset of the semaphore (uprobe ref_ctr_offset), 0 when none. */
  semaphoreOffset: number;
}

const decoder = new TextDecoder('utf-8', { fatal: false });
const align4 = (n: number): number => (n + 3) & ~3;

function u64(view: DataView, off: number, what: string): number {
  const v = view.getBigUint64(off, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER))
    throw new UsdtError(`tsbpf: ${what} 0x${v.toString(16)} does not fit in a safe integer`);
  return Number(v);
}

/** Decodes every stapsdt note of `elf` (empty when the binary has no `.note.stapsdt`). */
export function parseUsdtNotes(elf: Elf): UsdtNote[] {
  const sec = elf.section(USDT_NOTE_SECTION);
  if (!sec) return [];
  const d = sec.data;
  const view = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const out: UsdtNote[] = [];
  let off = 0;
  while (off + 12 <= d.byteLength) {
    const namesz = view.getUint32(off, true);
    const descsz = view.getUint32(off + 4, true);
    const type = view.getUint32(off + 8, true);
    const nameOff = off + 12;
    const descOff = nameOff + align4(namesz);
    const next = descOff + align4(descsz);
    if (descOff + descsz > d.byteLength)
      throw new UsdtError(`tsbpf: ${USDT_NOTE_SECTION} is truncated (note at ${off} runs past the section)`);
    const owner = decoder.decode(d.subarray(nameOff, nameOff + namesz)).replace(/\0+$/, '');
    off = next;
    if (owner !== NOTE_OWNER || type !== NT_STAPSDT) continue;
    if (descsz < NOTE_ADDRS + 3) throw new UsdtError(`tsbpf: stapsdt note too short (${descsz} bytes)`);
    const desc = d.subarray(descOff, descOff + descsz);
    const strings: string[] = [];
    let p = NOTE_ADDRS;
    for (let i = 0; i < 3; i++) {
      const nul = desc.indexOf(0, p);
      if (nul < 0)
        throw new UsdtError(`tsbpf: stapsdt note has an unterminated ${['provider', 'name', 'argument'][i]} string`);
      strings.push(decoder.decode(desc.subarray(p, nul)));
      p = nul + 1;
    }
    const [provider, name, args] = strings as [string, string, string];
    if (!name) throw new UsdtError(`tsbpf: stapsdt note of provider "${provider}" has an empty probe name`);
    out.push({
      provider,
      name,
      // Some toolchains write ':' for "no arguments" (libbpf treats it as empty too).
      args: args === ':' ? '' : args,
      location: u64(view, descOff, 'probe address'),
      base: u64(view, descOff + 8, 'probe base'),
      semaphore: u64(view, descOff + 16, 'semaphore address'),
    });
  }
  return out;
}

interface Segment {
  start: number;
  end: number;
  offset: number;
  exec: boolean;
}

function loadSegments(elf: Elf): Segment[] {
  return elf.programHeaders
    .filter((p) => p.type === PT_LOAD)
    .map((p) => ({ start: p.vaddr, end: p.vaddr + p.memsz, offset: p.offset, exec: (p.flags & PF_X) !== 0 }));
}

/**
 * The sites of `provider:name` in `elf` with file offsets (every site of every probe when both are omitted).
 * Throws UsdtError when a site's address is in no loadable segment, or its semaphore is in an executable one.
 */
export function usdtSites(elf: Elf, provider?: string, name?: string): UsdtSite[] {
  if (elf.header.type !== ET_EXEC && elf.header.type !== ET_DYN)
    throw new UsdtError(`tsbpf: USDT needs an executable or shared library (ELF type ${elf.header.type})`);
  const segs = loadSegments(elf);
  const baseAddr = elf.section(USDT_BASE_SECTION)?.addr ?? 0;
  const out: UsdtSite[] = [];
  for (const n of parseUsdtNotes(elf)) {
    if (provider !== undefined && n.provider !== provider) continue;
    if (name !== undefined && n.name !== name) continue;
    // Prelink moves code but not the (non-allocated) notes: .stapsdt.base tells by how much.
    const address = baseAddr && n.base ? n.location + (baseAddr - n.base) : n.location;
    const seg = segs.find((s) => address >= s.start && address < s.end);
    if (!seg)
      throw new UsdtError(`tsbpf: USDT ${n.provider}:${n.name} at 0x${address.toString(16)} is in no loadable segment`);
    if (!seg.exec)
      throw new UsdtError(
        `tsbpf: USDT ${n.provider}:${n.name} at 0x${address.toString(16)} is in a non-executable segment`,
      );
    let semaphoreOffset = 0;
    if (n.semaphore) {
      const ss = segs.find((s) => n.semaphore >= s.start && n.semaphore < s.end);
      if (!ss || ss.exec)
        throw new UsdtError(
          `tsbpf: USDT ${n.provider}:${n.name} semaphore at 0x${n.semaphore.toString(16)} is not in a writable data segment`,
        );
      semaphoreOffset = n.semaphore - ss.start + ss.offset;
    }
    out.push({ ...n, address, fileOffset: address - seg.start + seg.offset, semaphoreOffset });
  }
  return out;
}

/**
 * The run-time address of a site in a process that mapped the binary, from that process's mappings of it
 * (`/proc/<pid>/maps` lines for the file: start, end, file offset). Needed only without BPF cookies.
 */
export function usdtRuntimeAddress(
  fileOffset: number,
  mappings: readonly { start: number; end: number; offset: number; exec?: boolean }[],
): number | undefined {
  for (const m of mappings) {
    if (m.exec === false) continue;
    if (fileOffset >= m.offset && fileOffset < m.offset + (m.end - m.start)) return m.start - m.offset + fileOffset;
  }
  return undefined;
}

// ---- argument specs ---------------------------------------------------------------------------------

/** Instruction sets whose argument syntax tsbpf decodes. */
export type UsdtArch = 'x86_64' | 'arm64';

/** enum __bpf_usdt_arg_type in usdt.bpf.h. */
export const USDT_ARG_TYPE = { const: 0, reg: 1, deref: 2, sib: 3 } as const;

/** One decoded argument location. */
export interface UsdtArg {
  /** `const` ($5), `reg` (%eax), `deref` (-8(%rbp)), `sib` (-96(%rbp,%rax,8)). */
  kind: keyof typeof USDT_ARG_TYPE;
  /** Size in bytes: 1, 2, 4 or 8. */
  size: 1 | 2 | 4 | 8;
  signed: boolean;
  /** The constant (const) or the memory offset (deref, sib). */
  value: bigint;
  /** Register name as written (reg, deref, sib base). */
  register?: string;
  /** offsetof(struct pt_regs, register). */
  registerOffset?: number;
  /** sib: index register, its pt_regs offset and the scale (1, 2, 4, 8). */
  indexRegister?: string;
  indexRegisterOffset?: number;
  scale?: 1 | 2 | 4 | 8;
}

// struct pt_regs (x86-64) field offsets, with every alias gas may write for the register.
const X86_REGS: [number, string[]][] = [
  [128, ['rip', 'eip']],
  [80, ['rax', 'eax', 'ax', 'al']],
  [40, ['rbx', 'ebx', 'bx', 'bl']],
  [88, ['rcx', 'ecx', 'cx', 'cl']],
  [96, ['rdx', 'edx', 'dx', 'dl']],
  [104, ['rsi', 'esi', 'si', 'sil']],
  [112, ['rdi', 'edi', 'di', 'dil']],
  [32, ['rbp', 'ebp', 'bp', 'bpl']],
  [152, ['rsp', 'esp', 'sp', 'spl']],
  [72, ['r8', 'r8d', 'r8w', 'r8b']],
  [64, ['r9', 'r9d', 'r9w', 'r9b']],
  [56, ['r10', 'r10d', 'r10w', 'r10b']],
  [48, ['r11', 'r11d', 'r11w', 'r11b']],
  [24, ['r12', 'r12d', 'r12w', 'r12b']],
  [16, ['r13', 'r13d', 'r13w', 'r13b']],
  [8, ['r14', 'r14d', 'r14w', 'r14b']],
  [0, ['r15', 'r15d', 'r15w', 'r15b']],
];
const X86_REG_OFFSET = new Map(X86_REGS.flatMap(([off, names]) => names.map((n) => [n, off] as const)));
const ARM64_SP = 248; // user_pt_regs: regs[31], sp, pc, pstate
const ARM64_GPR = 8;

/** offsetof(struct pt_regs, reg) for a register name as USDT specs write it (without `%`). */
export function usdtRegisterOffset(reg: string, arch: UsdtArch = 'x86_64'): number {
  if (arch === 'x86_64') {
    const off = X86_REG_OFFSET.get(reg);
    if (off === undefined) throw new UsdtError(`tsbpf: unknown x86-64 register "%${reg}" in a USDT argument`);
    return off;
  }
  if (reg === 'sp') return ARM64_SP;
  const m = /^[xw](\d+)$/.exec(reg);
  if (m && Number(m[1]) < 31) return Number(m[1]) * ARM64_GPR;
  throw new UsdtError(`tsbpf: unknown arm64 register "${reg}" in a USDT argument`);
}

/** The instruction set of an ELF file, for its argument syntax. */
export function usdtArchOf(elf: Elf): UsdtArch {
  if (elf.header.machine === EM_X86_64) return 'x86_64';
  if (elf.header.machine === EM_AARCH64) return 'arm64';
  throw new UsdtError(
    `tsbpf: USDT argument specs of ELF machine ${elf.header.machine} are not supported (x86-64 and arm64 are)`,
  );
}

const NUM = '[-+]?(?:0x[0-9a-fA-F]+|\\d+)';
// x86-64 AT&T operands: $imm | %reg | [off](%base[,%index[,scale]])
const X86_ARG = new RegExp(
  `\\s*(-?\\d+)\\s*@\\s*(?:\\$(${NUM})|%([a-z0-9]+)|(${NUM})?\\(\\s*%([a-z0-9]+)\\s*(?:,\\s*%([a-z0-9]+)\\s*(?:,\\s*(\\d+)\\s*)?)?\\))(?=\\s|$)`,
  'y',
);
// arm64: [reg, off] | [reg] | imm | reg
const ARM_ARG = new RegExp(
  `\\s*(-?\\d+)\\s*@\\s*(?:\\[\\s*([a-z0-9]+)\\s*(?:,\\s*#?(${NUM})\\s*)?\\]|#?(${NUM})|([a-z][a-z0-9]*))(?=\\s|$)`,
  'y',
);

function sizeOf(raw: string, spec: string): { size: UsdtArg['size']; signed: boolean } {
  const n = Number(raw);
  const size = Math.abs(n);
  if (size !== 1 && size !== 2 && size !== 4 && size !== 8)
    throw new UsdtError(`tsbpf: USDT argument "${spec}" has size ${raw}; only 1, 2, 4 and 8 bytes are supported`);
  return { size, signed: n < 0 };
}

/** Decodes a site's argument spec string (`-4@%edi 8@-8(%rbp) -4@$5`) into argument locations. */
export function parseUsdtArgs(args: string, arch: UsdtArch = 'x86_64'): UsdtArg[] {
  const out: UsdtArg[] = [];
  const re = arch === 'x86_64' ? X86_ARG : ARM_ARG;
  let pos = 0;
  while (args.slice(pos).trim() !== '') {
    re.lastIndex = pos;
    const m = re.exec(args);
    if (!m)
      throw new UsdtError(
        `tsbpf: cannot decode USDT argument #${out.length} "${args.slice(pos).trim().split(/\s+/)[0]}" (${arch}) in "${args}"`,
      );
    if (out.length >= USDT_MAX_ARGS)
      throw new UsdtError(`tsbpf: USDT spec "${args}" has more than ${USDT_MAX_ARGS} arguments`);
    pos = re.lastIndex;
    const spec = m[0].trim();
    const { size, signed } = sizeOf(m[1]!, spec);
    if (arch === 'x86_64') {
      if (m[2] !== undefined) out.push({ kind: 'const', size, signed, value: BigInt(m[2]) });
      else if (m[3] !== undefined)
        out.push({ kind: 'reg', size, signed, value: 0n, register: m[3], registerOffset: usdtRegisterOffset(m[3]) });
      else if (m[6] === undefined)
        out.push({
          kind: 'deref',
          size,
          signed,
          value: BigInt(m[4] ?? 0),
          register: m[5]!,
          registerOffset: usdtRegisterOffset(m[5]!),
        });
      else {
        const scale = Number(m[7] ?? 1);
        if (scale !== 1 && scale !== 2 && scale !== 4 && scale !== 8)
          throw new UsdtError(`tsbpf: USDT argument "${spec}" has scale ${scale}; expected 1, 2, 4 or 8`);
        out.push({
          kind: 'sib',
          size,
          signed,
          value: BigInt(m[4] ?? 0),
          register: m[5]!,
          registerOffset: usdtRegisterOffset(m[5]!),
          indexRegister: m[6],
          indexRegisterOffset: usdtRegisterOffset(m[6]),
          scale,
        });
      }
    } else {
      if (m[2] !== undefined)
        out.push({
          kind: 'deref',
          size,
          signed,
          value: BigInt(m[3] ?? 0),
          register: m[2],
          registerOffset: usdtRegisterOffset(m[2], 'arm64'),
        });
      else if (m[4] !== undefined) out.push({ kind: 'const', size, signed, value: BigInt(m[4]) });
      else
        out.push({
          kind: 'reg',
          size,
          signed,
          value: 0n,
          register: m[5]!,
          registerOffset: usdtRegisterOffset(m[5]!, 'arm64'),
        });
    }
  }
  return out;
}

// ---- struct __bpf_usdt_spec ---------------------------------------------------------------------------

/**
 * Byte layout of `struct __bpf_usdt_arg_spec`, which differs between usdt.bpf.h versions: libbpf < 1.7 has a
 * 4-byte `arg_type` (16-byte args, reg_off at 12); 1.7+ packs `arg_type:8, idx_reg_off:12, scale_bitshift:4,
 * __reserved:8` bitfields, which the C ABI lays out as 24-byte args with reg_off at 14. The spec map's value
 * size tells which header the BPF object was compiled with.
 */
export interface UsdtSpecLayout {
  /** sizeof(struct __bpf_usdt_arg_spec). */
  argSize: 16 | 24;
  /** offsetof(reg_off); arg_signed and arg_bitshift follow it. */
  regOff: 12 | 14;
  /** Whether the layout has the SIB fields (idx_reg_off, scale_bitshift in the u16 at 10). */
  sib: boolean;
  /** sizeof(struct __bpf_usdt_spec): the spec map's value size. */
  valueSize: number;
}

const specSize = (argSize: number): number => (argSize * USDT_MAX_ARGS + 8 + 2 + 7) & ~7;
/** usdt.bpf.h before libbpf 1.7 (Debian 12's libbpf-dev 1.1, for one). */
export const USDT_SPEC_LAYOUT_V1: UsdtSpecLayout = { argSize: 16, regOff: 12, sib: false, valueSize: specSize(16) };
/** usdt.bpf.h from libbpf 1.7 on (SIB arguments). */
export const USDT_SPEC_LAYOUT_V2: UsdtSpecLayout = { argSize: 24, regOff: 14, sib: true, valueSize: specSize(24) };

/** The layout matching a `__bpf_usdt_specs` map's value size; UsdtError for any other size. */
export function usdtSpecLayout(valueSize: number): UsdtSpecLayout {
  if (valueSize === USDT_SPEC_LAYOUT_V1.valueSize) return USDT_SPEC_LAYOUT_V1;
  if (valueSize === USDT_SPEC_LAYOUT_V2.valueSize) return USDT_SPEC_LAYOUT_V2;
  throw new UsdtError(
    `tsbpf: __bpf_usdt_specs has value size ${valueSize}; expected ${USDT_SPEC_LAYOUT_V1.valueSize} (usdt.bpf.h < libbpf 1.7) or ${USDT_SPEC_LAYOUT_V2.valueSize} (1.7+)`,
  );
}

const MASK64 = (1n << 64n) - 1n;

/** Encodes a site's arguments and the user's USDT cookie as a `struct __bpf_usdt_spec` value. */
export function encodeUsdtSpec(
  args: readonly UsdtArg[],
  cookie: bigint = 0n,
  layout: UsdtSpecLayout = USDT_SPEC_LAYOUT_V1,
): Uint8Array {
  if (args.length > USDT_MAX_ARGS)
    throw new UsdtError(`tsbpf: ${args.length} USDT arguments; the spec holds ${USDT_MAX_ARGS}`);
  const out = new Uint8Array(layout.valueSize);
  const v = new DataView(out.buffer);
  args.forEach((a, i) => {
    const o = i * layout.argSize;
    v.setBigUint64(o, a.value & MASK64, true);
    v.setUint8(o + 8, USDT_ARG_TYPE[a.kind]);
    if (a.kind === 'sib') {
      if (!layout.sib)
        throw new UsdtError(
          `tsbpf: USDT argument #${i} uses base+index*scale addressing, which needs usdt.bpf.h from libbpf 1.7 or later (this object's is older)`,
        );
      v.setUint16(o + 10, (a.indexRegisterOffset! & 0xfff) | (Math.log2(a.scale!) << 12), true);
    }
    v.setInt16(o + layout.regOff, a.registerOffset ?? 0, true);
    v.setUint8(o + layout.regOff + 2, a.signed ? 1 : 0);
    v.setInt8(o + layout.regOff + 3, 64 - a.size * 8);
  });
  const tail = USDT_MAX_ARGS * layout.argSize;
  v.setBigUint64(tail, cookie & MASK64, true);
  v.setInt16(tail + 8, args.length, true);
  return out;
}
