/**
 * CO-RE (compile once, run everywhere) relocations, as libbpf's relo_core.c: for each `.BTF.ext` core_relo
 * record, compute the value the instruction was compiled with (from the object's BTF) and the value it needs on
 * the target kernel (from `/sys/kernel/btf/vmlinux` or a given BTF), then patch the instruction.
 *
 * Candidates are target types of the same kind whose name matches ignoring `___flavor` suffixes
 * (`task_struct___old` matches `task_struct`). Fields match by name (descending into anonymous members), arrays
 * by index; a relocation no candidate satisfies poisons its instruction (a call to an invalid helper, so the
 * verifier complains only if it is reachable) except for the `*_exists` kinds, which become 0.
 * Pure: works on Btf objects and instruction bytes.
 */
import { TsbpfError } from './errors.js';
import { type Btf, BTF_INT_SIGNED, type BtfComposite, type BtfType } from './btf.js';
import { CORE_RELO_KIND, coreReloKindName, type BtfCoreRelo } from './btf-ext.js';

/** Thrown when a relocation cannot be applied (ambiguous candidates, instruction that does not match, ...). */
export class CoreReloError extends TsbpfError {
  override readonly name = 'CoreReloError';
  readonly code = 'ERR_CORE_RELO';
}

/** The instruction libbpf writes for an unsatisfiable relocation: `call 0xbad2310`. */
export const CORE_POISON_IMM = 0xbad2310;

/** One relocation's outcome. */
export interface CoreReloResult {
  kind: number;
  /** Value in the object (what the instruction holds). */
  origValue: number | bigint;
  /** Value for the target. */
  newValue: number | bigint;
  /** No candidate matched and the kind has no "doesn't exist" answer: the instruction gets poisoned. */
  poison: boolean;
  /** Field byte sizes (field_byte_offset on loads/stores may need the memory size adjusted). */
  origSize?: number;
  newSize?: number;
  /** Sizes differ and the load/store cannot be resized safely (libbpf poisons such a load/store). */
  failMemSizeAdjust?: boolean;
  /** Check that the instruction holds origValue before patching. */
  validate: boolean;
  /** Target type id of the matched candidate (undefined when none). */
  targetId?: number;
  /** Human description, e.g. `struct task_struct.tgid (0:59)`. */
  description: string;
}

const FIELD_KINDS = new Set<number>([0, 1, 2, 3, 4, 5]);
const TYPE_KINDS = new Set<number>([6, 7, 8, 9, 12]);
const ENUM_KINDS = new Set<number>([10, 11]);

/** `task_struct___old` → `task_struct` (libbpf's bpf_core_essential_name_len). */
export function essentialName(name: string): string {
  for (let i = name.length - 5; i >= 0; i--) {
    if (name[i] !== '_' && name[i + 1] === '_' && name[i + 2] === '_' && name[i + 3] === '_' && name[i + 4] !== '_')
      return name.slice(0, i + 1);
  }
  return name;
}

const isComposite = (t: BtfType): t is BtfComposite => t.kind === 4 || t.kind === 5;
const isEnum = (t: BtfType): boolean => t.kind === 6 || t.kind === 19;
/** Kind class for candidate matching: ENUM and ENUM64 are interchangeable. */
const kindClass = (k: number): number => (k === 19 ? 6 : k);

function skipModsAndTypedefs(btf: Btf, id: number): number {
  return btf.resolve(id);
}

const candidateIndex = new WeakMap<Btf, Map<string, number[]>>();

/** Target type ids whose essential name equals `name`'s, of the same kind class as `kind`. Cached per target. */
export function findCandidates(target: Btf, name: string, kind: number): number[] {
  let idx = candidateIndex.get(target);
  if (!idx) {
    idx = new Map();
    for (let id = 1; id < target.endId; id++) {
      const t = target.type(id);
      if (!t.name) continue;
      const ess = essentialName(t.name);
      const list = idx.get(ess);
      if (list) list.push(id);
      else idx.set(ess, [id]);
    }
    candidateIndex.set(target, idx);
  }
  const want = kindClass(kind);
  return (idx.get(essentialName(name)) ?? []).filter((id) => kindClass(target.type(id).kind) === want);
}

/** libbpf's bpf_core_fields_are_compat. */
function fieldsCompat(lb: Btf, lid: number, tb: Btf, tid: number, depth = 0): boolean {
  if (depth > 32) return false;
  const l = lb.type(skipModsAndTypedefs(lb, lid));
  const t = tb.type(skipModsAndTypedefs(tb, tid));
  if (isComposite(l) && isComposite(t)) return true;
  if (kindClass(l.kind) !== kindClass(t.kind)) return false;
  switch (l.kind) {
    case 2:
    case 16:
      return true;
    case 7:
    case 6:
    case 19:
      return !l.name || !t.name || essentialName(l.name) === essentialName(t.name);
    case 1:
      return l.bitOffset === 0 && (t as typeof l).bitOffset === 0;
    case 3:
      return fieldsCompat(lb, l.type, tb, (t as typeof l).type, depth + 1);
    default:
      return false;
  }
}

/** libbpf's bpf_core_types_are_compat (type-based relocations). */
export function typesCompat(lb: Btf, lid: number, tb: Btf, tid: number, depth = 0): boolean {
  if (depth > 32) return false;
  const l = lb.type(skipModsAndTypedefs(lb, lid));
  const t = tb.type(skipModsAndTypedefs(tb, tid));
  if (kindClass(l.kind) !== kindClass(t.kind)) return false;
  switch (l.kind) {
    case 0:
    case 4:
    case 5:
    case 6:
    case 19:
    case 7:
    case 16:
      return true;
    case 1:
      return l.bitOffset === 0 && (t as typeof l).bitOffset === 0;
    case 2:
      return typesCompat(lb, l.type, tb, (t as typeof l).type, depth + 1);
    case 3:
      return typesCompat(lb, l.type, tb, (t as typeof l).type, depth + 1);
    case 13: {
      const tp = t as typeof l;
      if (l.params.length !== tp.params.length) return false;
      for (let i = 0; i < l.params.length; i++)
        if (!typesCompat(lb, l.params[i]!.type, tb, tp.params[i]!.type, depth + 1)) return false;
      return typesCompat(lb, l.returnType, tb, tp.returnType, depth + 1);
    }
    default:
      return false;
  }
}

/** A resolved field access chain on one BTF. */
interface FieldSpec {
  /** Bit offset from the root pointer. */
  bitOffset: number;
  /** Type of the accessed field (unresolved). */
  fieldType: number;
  /** Bitfield size when the last access is a bitfield member, else 0. */
  bitfieldSize: number;
  /** Last access was a struct member (bitfields only exist there). */
  isMember: boolean;
}

/** A named step of the local spec: members by name, array elements by index. */
type Step = { member: string; type: number } | { index: number };

function localFieldSpec(btf: Btf, relo: BtfCoreRelo): { spec: FieldSpec; steps: Step[]; path: string } {
  const acc = relo.access;
  let cur = relo.typeId;
  let bitOffset = acc[0]! * btf.sizeOf(cur) * 8;
  let bitfieldSize = 0;
  let isMember = false;
  const steps: Step[] = [];
  const names: string[] = [];
  for (let i = 1; i < acc.length; i++) {
    const t = btf.type(skipModsAndTypedefs(btf, cur));
    const idx = acc[i]!;
    if (isComposite(t)) {
      const m = t.members[idx];
      if (!m)
        throw new CoreReloError(
          `CO-RE access ${relo.accessString} on ${btf.describe(relo.typeId)}: member #${idx} out of range`,
        );
      bitOffset += m.bitOffset;
      bitfieldSize = m.bitfieldSize;
      isMember = true;
      if (m.name) {
        steps.push({ member: m.name, type: m.type });
        names.push(m.name);
      }
      cur = m.type;
    } else if (t.kind === 3) {
      bitOffset += idx * btf.sizeOf(t.type) * 8;
      bitfieldSize = 0;
      isMember = false;
      steps.push({ index: idx });
      names.push(`[${idx}]`);
      cur = t.type;
    } else {
      throw new CoreReloError(
        `CO-RE access ${relo.accessString} on ${btf.describe(relo.typeId)}: step ${i} indexes ${btf.describe(cur)}`,
      );
    }
  }
  return {
    spec: { bitOffset, fieldType: cur, bitfieldSize, isMember },
    steps,
    path: names.join('.').replace(/\.\[/g, '['),
  };
}

/** Find member `name` in composite `t` (through anonymous members). */
function matchMember(
  btf: Btf,
  t: BtfComposite,
  name: string,
  depth = 0,
): { bitOffset: number; type: number; bitfieldSize: number } | undefined {
  if (depth > 32) return undefined;
  for (const m of t.members) {
    if (m.name === name) return { bitOffset: m.bitOffset, type: m.type, bitfieldSize: m.bitfieldSize };
    if (!m.name) {
      const inner = btf.type(skipModsAndTypedefs(btf, m.type));
      if (isComposite(inner)) {
        const hit = matchMember(btf, inner, name, depth + 1);
        if (hit) return { ...hit, bitOffset: hit.bitOffset + m.bitOffset };
      }
    }
  }
  return undefined;
}

function targetFieldSpec(
  local: Btf,
  steps: Step[],
  rootIndex: number,
  target: Btf,
  targetRoot: number,
): FieldSpec | undefined {
  let cur = targetRoot;
  let bitOffset = rootIndex * target.sizeOf(targetRoot) * 8;
  let bitfieldSize = 0;
  let isMember = false;
  for (const s of steps) {
    const t = target.type(skipModsAndTypedefs(target, cur));
    if ('member' in s) {
      if (!isComposite(t)) return undefined;
      const hit = matchMember(target, t, s.member);
      if (!hit || !fieldsCompat(local, s.type, target, hit.type)) return undefined;
      bitOffset += hit.bitOffset;
      bitfieldSize = hit.bitfieldSize;
      isMember = true;
      cur = hit.type;
    } else {
      if (t.kind !== 3) return undefined;
      if (s.index >= t.nelems && t.nelems !== 0) return undefined;
      bitOffset += s.index * target.sizeOf(t.type) * 8;
      bitfieldSize = 0;
      isMember = false;
      cur = t.type;
    }
  }
  return { bitOffset, fieldType: cur, bitfieldSize, isMember };
}

/** One side of a field relocation (libbpf's bpf_core_calc_field_relo). */
interface FieldValue {
  value: number;
  /** Memory size of the field for load/store size adjustment (0: leave the instruction's size alone). */
  size: number;
  /** Type id (modifiers and typedefs skipped) of the field, for the size-adjustment safety check. */
  typeId: number;
  /** libbpf checks the instruction's original value only where compiler and libbpf cannot disagree. */
  validate: boolean;
}

/**
 * libbpf's bpf_core_calc_field_relo for one side. For bitfields, libbpf computes the smallest naturally aligned
 * load covering the bits, which can differ from the load clang chose; so every bitfield value except signedness
 * and right shift is not validated against the instruction, and the load/store width is never adjusted.
 */
function fieldValue(btf: Btf, spec: FieldSpec, kind: number): FieldValue {
  if (kind === CORE_RELO_KIND.field_exists) return { value: 1, size: 0, typeId: 0, validate: true };
  const fieldId = skipModsAndTypedefs(btf, spec.fieldType);
  if (!spec.isMember) {
    // Array element (or the root itself): only offset and size make sense.
    const sz = btf.sizeOf(fieldId);
    if (kind === CORE_RELO_KIND.field_byte_offset)
      return { value: spec.bitOffset / 8, size: sz, typeId: fieldId, validate: true };
    if (kind === CORE_RELO_KIND.field_byte_size) return { value: sz, size: 0, typeId: 0, validate: true };
    throw new CoreReloError(`CO-RE ${coreReloKindName(kind)} cannot be applied to an array element access`);
  }
  const mt = btf.type(fieldId);
  const bitOff = spec.bitOffset;
  const bitfield = spec.bitfieldSize > 0;
  let byteSize: number;
  let byteOff: number;
  let bitSize: number;
  if (bitfield) {
    byteSize = btf.sizeOf(fieldId);
    bitSize = spec.bitfieldSize;
    byteOff = Math.floor(bitOff / 8 / byteSize) * byteSize;
    // Smallest naturally aligned integer load that covers all the bits.
    while (bitOff + bitSize - byteOff * 8 > byteSize * 8) {
      if (byteSize >= 8)
        throw new CoreReloError(`bitfield at bit ${bitOff} (${bitSize} bits) cannot be read with a 64-bit load`);
      byteSize *= 2;
      byteOff = Math.floor(bitOff / 8 / byteSize) * byteSize;
    }
  } else {
    byteSize = btf.sizeOf(fieldId);
    byteOff = Math.floor(bitOff / 8);
    bitSize = byteSize * 8;
  }
  const validate = !bitfield;
  switch (kind) {
    case CORE_RELO_KIND.field_byte_offset:
      return { value: byteOff, size: bitfield ? 0 : byteSize, typeId: bitfield ? 0 : fieldId, validate };
    case CORE_RELO_KIND.field_byte_size:
      return { value: byteSize, size: 0, typeId: 0, validate };
    case CORE_RELO_KIND.field_signed:
      return {
        value:
          (isEnum(mt) && (mt as { signed: boolean }).signed) || (mt.kind === 1 && (mt.encoding & BTF_INT_SIGNED) !== 0)
            ? 1
            : 0,
        size: 0,
        typeId: 0,
        validate: true,
      };
    // Little-endian (the only byte order tsbpf targets).
    case CORE_RELO_KIND.field_lshift_u64:
      return { value: 64 - (bitOff + bitSize - byteOff * 8), size: 0, typeId: 0, validate };
    case CORE_RELO_KIND.field_rshift_u64:
      return { value: 64 - bitSize, size: 0, typeId: 0, validate: true };
    default:
      throw new CoreReloError(`not a field relocation kind: ${kind}`);
  }
}

/**
 * libbpf adjusts a load/store's size to a changed field size only when the value reads the same: pointers, or
 * unsigned integers (zero extension). Anything else poisons the load/store.
 */
function memSizeAdjustSafe(local: Btf, localId: number, target: Btf, targetId: number): boolean {
  const l = local.type(localId);
  const t = target.type(targetId);
  if (l.kind === 2 && t.kind === 2) return true;
  return l.kind === 1 && t.kind === 1 && (l.encoding & BTF_INT_SIGNED) === 0 && (t.encoding & BTF_INT_SIGNED) === 0;
}

function typeValue(btf: Btf, id: number, kind: number): number {
  switch (kind) {
    case CORE_RELO_KIND.type_id_local:
    case CORE_RELO_KIND.type_id_target:
      return id;
    case CORE_RELO_KIND.type_exists:
    case CORE_RELO_KIND.type_matches:
      return 1;
    case CORE_RELO_KIND.type_size:
      return btf.sizeOf(id);
    default:
      throw new CoreReloError(`not a type relocation kind: ${kind}`);
  }
}

function enumerator(btf: Btf, enumId: number, index: number): { name: string; value: number | bigint } | undefined {
  const t = btf.type(skipModsAndTypedefs(btf, enumId));
  if (t.kind !== 6 && t.kind !== 19) return undefined;
  const v = t.values[index];
  return v ? { name: v.name, value: v.value } : undefined;
}

function findEnumerator(btf: Btf, enumId: number, name: string): number | bigint | undefined {
  const t = btf.type(skipModsAndTypedefs(btf, enumId));
  if (t.kind !== 6 && t.kind !== 19) return undefined;
  const ess = essentialName(name);
  for (const v of t.values) if (essentialName(v.name) === ess) return v.value;
  return undefined;
}

const same = (a: number | bigint, b: number | bigint): boolean => BigInt(a) === BigInt(b);

/**
 * Compute one relocation against `target` (libbpf's bpf_core_calc_relo_insn): local value, target value, or
 * poison. Throws CoreReloError when candidates disagree or the local spec is malformed.
 */
export function resolveCoreRelo(local: Btf, target: Btf, relo: BtfCoreRelo): CoreReloResult {
  const kind = relo.kind;
  const root = local.type(relo.typeId);
  const kname = coreReloKindName(kind);
  if (kind === CORE_RELO_KIND.type_id_local) {
    return {
      kind,
      origValue: relo.typeId,
      newValue: relo.typeId,
      poison: false,
      validate: true,
      description: `${kname} ${local.describe(relo.typeId)}`,
    };
  }
  if (!root.name && kind !== CORE_RELO_KIND.type_id_local) {
    throw new CoreReloError(
      `CO-RE ${kname} relocation on anonymous ${local.describe(relo.typeId)} cannot be matched by name`,
    );
  }
  const cands = findCandidates(target, root.name, root.kind);
  if (FIELD_KINDS.has(kind)) {
    const { spec, steps, path } = localFieldSpec(local, relo);
    const desc = `${kname} ${local.describe(relo.typeId)}.${path} (${relo.accessString})`;
    const orig = fieldValue(local, spec, kind);
    let found: (FieldValue & { id: number }) | undefined;
    for (const id of cands) {
      const ts = targetFieldSpec(local, steps, relo.access[0]!, target, id);
      if (!ts) continue;
      const v = fieldValue(target, ts, kind);
      if (found && found.value !== v.value) {
        throw new CoreReloError(
          `${desc}: ambiguous: candidates ${target.describe(found.id)} [${found.id}] and [${id}] give ${found.value} and ${v.value}`,
        );
      }
      found ??= { ...v, id };
    }
    if (!found) {
      if (kind === CORE_RELO_KIND.field_exists)
        return { kind, origValue: orig.value, newValue: 0, poison: false, validate: true, description: desc };
      return { kind, origValue: orig.value, newValue: orig.value, poison: true, validate: false, description: desc };
    }
    const res: CoreReloResult = {
      kind,
      origValue: orig.value,
      newValue: found.value,
      poison: false,
      validate: orig.validate,
      targetId: found.id,
      description: desc,
    };
    if (orig.size !== found.size) {
      res.origSize = orig.size;
      res.newSize = found.size;
      if (!memSizeAdjustSafe(local, orig.typeId, target, found.typeId)) res.failMemSizeAdjust = true;
    }
    return res;
  }
  if (TYPE_KINDS.has(kind)) {
    const desc = `${kname} ${local.describe(relo.typeId)}`;
    const orig = kind === CORE_RELO_KIND.type_id_target ? relo.typeId : typeValue(local, relo.typeId, kind);
    let found: { value: number; id: number } | undefined;
    for (const id of cands) {
      if (!typesCompat(local, relo.typeId, target, id)) continue;
      const v = typeValue(target, id, kind);
      if (found && found.value !== v && kind !== CORE_RELO_KIND.type_id_target) {
        throw new CoreReloError(
          `${desc}: ambiguous: candidates [${found.id}] and [${id}] give ${found.value} and ${v}`,
        );
      }
      found ??= { value: v, id };
    }
    if (!found) {
      if (kind === CORE_RELO_KIND.type_exists || kind === CORE_RELO_KIND.type_matches)
        return { kind, origValue: orig, newValue: 0, poison: false, validate: false, description: desc };
      return { kind, origValue: orig, newValue: orig, poison: true, validate: false, description: desc };
    }
    return {
      kind,
      origValue: orig,
      newValue: found.value,
      poison: false,
      validate: false,
      targetId: found.id,
      description: desc,
    };
  }
  if (ENUM_KINDS.has(kind)) {
    const e = enumerator(local, relo.typeId, relo.access[0]!);
    if (!e)
      throw new CoreReloError(`CO-RE ${kname}: ${local.describe(relo.typeId)} has no enumerator #${relo.access[0]}`);
    const desc = `${kname} ${local.describe(relo.typeId)}::${e.name}`;
    const orig = kind === CORE_RELO_KIND.enumval_exists ? 1 : e.value;
    let found: { value: number | bigint; id: number } | undefined;
    for (const id of cands) {
      const v = findEnumerator(target, id, e.name);
      if (v === undefined) continue;
      const val = kind === CORE_RELO_KIND.enumval_exists ? 1 : v;
      if (found && !same(found.value, val))
        throw new CoreReloError(
          `${desc}: ambiguous: candidates [${found.id}] and [${id}] give ${found.value} and ${val}`,
        );
      found ??= { value: val, id };
    }
    if (!found) {
      if (kind === CORE_RELO_KIND.enumval_exists)
        return { kind, origValue: orig, newValue: 0, poison: false, validate: false, description: desc };
      return { kind, origValue: orig, newValue: orig, poison: true, validate: false, description: desc };
    }
    return {
      kind,
      origValue: orig,
      newValue: found.value,
      poison: false,
      validate: false,
      targetId: found.id,
      description: desc,
    };
  }
  throw new CoreReloError(`unsupported CO-RE relocation kind ${kind}`);
}

const SIZE_CODE: Record<number, number> = { 1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18 };
const CODE_SIZE: Record<number, number> = { 16: 1, 8: 2, 0: 4, 24: 8 };

/**
 * Patch instruction `index` of `insns` (8-byte slots) with a relocation result, as libbpf's bpf_core_patch_insn:
 * ALU immediates, load/store offsets (adjusting the memory size when the field's size changed), ld_imm64 values,
 * or poison. Throws CoreReloError when the instruction does not hold the expected original value.
 */
export function patchCoreInsn(insns: Uint8Array, index: number, res: CoreReloResult): void {
  const at = index * 8;
  if (index < 0 || at + 8 > insns.length)
    throw new CoreReloError(`${res.description}: instruction ${index} out of range`);
  const v = new DataView(insns.buffer, insns.byteOffset, insns.byteLength);
  const code = insns[at]!;
  const cls = code & 7;
  if (res.poison) {
    const poisonOne = (o: number): void => {
      insns[o] = 0x85;
      insns[o + 1] = 0;
      v.setInt16(o + 2, 0, true);
      v.setInt32(o + 4, CORE_POISON_IMM, true);
    };
    poisonOne(at);
    if (code === 0x18 && at + 16 <= insns.length) poisonOne(at + 8);
    return;
  }
  const orig = Number(res.origValue);
  if (cls === 0x04 || cls === 0x07) {
    // ALU / ALU64
    if (code & 0x08)
      throw new CoreReloError(
        `${res.description}: instruction ${index} is a register ALU op, cannot patch an immediate`,
      );
    const imm = v.getInt32(at + 4, true);
    if (res.validate && imm !== orig)
      throw new CoreReloError(`${res.description}: instruction ${index} has imm ${imm}, expected ${orig}`);
    const nv = Number(res.newValue);
    if (nv > 0x7fffffff || nv < -0x80000000)
      throw new CoreReloError(`${res.description}: value ${nv} does not fit a 32-bit immediate`);
    v.setInt32(at + 4, nv, true);
    return;
  }
  if (cls === 0x01 || cls === 0x02 || cls === 0x03) {
    // LDX / ST / STX
    const off = v.getInt16(at + 2, true);
    if (res.validate && off !== orig)
      throw new CoreReloError(`${res.description}: instruction ${index} has offset ${off}, expected ${orig}`);
    const nv = Number(res.newValue);
    if (nv > 0x7fff || nv < -0x8000) throw new CoreReloError(`${res.description}: offset ${nv} does not fit 16 bits`);
    if (res.failMemSizeAdjust) {
      // libbpf: "invalid mem size adjustment" poisons the load/store; the verifier complains only if reachable.
      insns[at] = 0x85;
      insns[at + 1] = 0;
      v.setInt16(at + 2, 0, true);
      v.setInt32(at + 4, CORE_POISON_IMM, true);
      return;
    }
    if (res.origSize !== undefined && res.newSize !== undefined && res.origSize !== res.newSize) {
      const cur = CODE_SIZE[code & 0x18];
      if (cur !== res.origSize || SIZE_CODE[res.newSize] === undefined) {
        throw new CoreReloError(
          `${res.description}: field size changed from ${res.origSize} to ${res.newSize} bytes and instruction ${index} (${cur}-byte access) cannot be adjusted`,
        );
      }
      insns[at] = (code & ~0x18) | SIZE_CODE[res.newSize]!;
    }
    v.setInt16(at + 2, nv, true);
    return;
  }
  if (code === 0x18) {
    // LD_IMM64
    if (at + 16 > insns.length) throw new CoreReloError(`${res.description}: ld_imm64 at ${index} is truncated`);
    const cur = (BigInt(v.getUint32(at + 12, true)) << 32n) | BigInt(v.getUint32(at + 4, true));
    if (res.validate && cur !== BigInt.asUintN(64, BigInt(res.origValue)))
      throw new CoreReloError(`${res.description}: ld_imm64 ${index} holds ${cur}, expected ${res.origValue}`);
    const nv = BigInt.asUintN(64, BigInt(res.newValue));
    v.setUint32(at + 4, Number(nv & 0xffffffffn), true);
    v.setUint32(at + 12, Number(nv >> 32n), true);
    return;
  }
  throw new CoreReloError(
    `${res.description}: instruction ${index} (opcode 0x${code.toString(16)}) cannot carry a CO-RE relocation`,
  );
}

/** Resolve and patch in one step; returns the result (for logs and tests). */
export function applyCoreRelo(
  local: Btf,
  target: Btf,
  relo: BtfCoreRelo,
  insns: Uint8Array,
  index: number,
): CoreReloResult {
  const res = resolveCoreRelo(local, target, relo);
  patchCoreInsn(insns, index, res);
  return res;
}
