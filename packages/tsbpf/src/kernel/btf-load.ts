/**
 * BPF_BTF_LOAD for object BTF: fix up what clang leaves for the linker (DATASEC sizes, VAR offsets, extern
 * linkage), sanitise kinds an older kernel lacks (as libbpf's `bpf_object__sanitize_btf` does), load it and return
 * an owned fd. A rejection throws BtfLoadError carrying the kernel's BTF verifier log.
 */
import {
  Btf,
  BTF_FUNC_EXTERN,
  BTF_FUNC_GLOBAL,
  BTF_FUNC_STATIC,
  BTF_INT_SIGNED,
  BTF_VAR_GLOBAL_ALLOCATED,
  BTF_VAR_GLOBAL_EXTERN,
  type BtfDatasec,
  type BtfType,
} from '../pure/btf.js';
import { BPF_CMD } from '../pure/uapi.js';
import { BpfError } from './errors.js';
import { Attr, bpfRaw, commandName, OwnedFd } from './syscall.js';

const ENOSPC = 28;

/** BTF kinds and features a kernel may lack; `true` means supported. */
export interface BtfFeatures {
  /** BTF_KIND_FUNC / FUNC_PROTO (4.20+). */
  func: boolean;
  /** BTF_FUNC_GLOBAL linkage (5.6+). */
  funcGlobal: boolean;
  /** BTF_KIND_VAR / DATASEC (5.2+). */
  datasec: boolean;
  /** BTF_KIND_FLOAT (5.13+). */
  float: boolean;
  /** BTF_KIND_DECL_TAG (5.16+). */
  declTag: boolean;
  /** BTF_KIND_TYPE_TAG (5.17+). */
  typeTag: boolean;
  /** BTF_KIND_ENUM64 (6.0+). */
  enum64: boolean;
}

/** Every feature (a current kernel). */
export const ALL_BTF_FEATURES: Readonly<BtfFeatures> = Object.freeze({
  func: true,
  funcGlobal: true,
  datasec: true,
  float: true,
  declTag: true,
  typeTag: true,
  enum64: true,
});

/** The kernel refused the BTF: `log` is its BTF verifier output. */
export class BtfLoadError extends BpfError {
  override name = 'BtfLoadError';
  readonly log: string;
  constructor(errno: number, log: string, what: string) {
    const last = log.trim().split('\n').filter(Boolean).slice(-2).join(' / ');
    super(errno, {
      syscall: 'bpf',
      command: commandName(BPF_CMD.btf_load),
      object: what,
      hint: last ? `kernel BTF log: ${last}` : undefined,
    });
    this.log = log;
  }
}

/**
 * Changes `btf` in place so the kernel accepts it: extern VARs become allocated globals and extern FUNCs global
 * (the kernel refuses extern linkage; the loader resolves externs itself), then kinds missing from `features` are
 * replaced the way libbpf does (DECL_TAG → INT, TYPE_TAG → CONST, FLOAT → INT-sized struct, ENUM64 → UNION,
 * VAR → INT, DATASEC → empty STRUCT, FUNC → TYPEDEF, FUNC_PROTO → ENUM, global FUNC → static).
 * Type ids are preserved, so func_info and map type ids stay valid.
 */
export function sanitizeBtf(btf: Btf, features: BtfFeatures = ALL_BTF_FEATURES): void {
  const types = btf.types as BtfType[];
  for (let i = 0; i < types.length; i++) {
    const t = types[i]!;
    const keep = { id: t.id, name: t.name, nameOff: t.nameOff };
    switch (t.kind) {
      case 14: // VAR
        if (t.linkage === BTF_VAR_GLOBAL_EXTERN) t.linkage = BTF_VAR_GLOBAL_ALLOCATED;
        if (!features.datasec) types[i] = { ...keep, kind: 1, size: 1, encoding: 0, bitOffset: 0, bits: 8 };
        break;
      case 15: // DATASEC
        if (!features.datasec) {
          // libbpf: a struct with one member per var is not needed; an empty struct of the same size keeps ids.
          const name = t.name.replace(/[^A-Za-z0-9_]/g, '_');
          types[i] = {
            ...keep,
            name,
            nameOff: btf.addString(name),
            kind: 4,
            size: t.size,
            kindFlag: false,
            members: [],
          };
        }
        break;
      case 12: // FUNC
        if (t.linkage === BTF_FUNC_EXTERN) t.linkage = BTF_FUNC_GLOBAL;
        if (!features.func) types[i] = { ...keep, kind: 8, type: t.type };
        else if (!features.funcGlobal && t.linkage === BTF_FUNC_GLOBAL) t.linkage = BTF_FUNC_STATIC;
        break;
      case 13: // FUNC_PROTO
        if (!features.func) types[i] = { ...keep, name: '', nameOff: 0, kind: 6, size: 4, signed: false, values: [] };
        break;
      case 16: // FLOAT
        if (!features.float) types[i] = { ...keep, kind: 4, size: t.size, kindFlag: false, members: [] };
        break;
      case 17: // DECL_TAG
        if (!features.declTag)
          types[i] = { ...keep, name: '', nameOff: 0, kind: 1, size: 4, encoding: 0, bitOffset: 0, bits: 32 };
        break;
      case 18: // TYPE_TAG
        if (!features.typeTag) types[i] = { ...keep, name: '', nameOff: 0, kind: 10, type: t.type };
        break;
      case 19: // ENUM64
        if (!features.enum64) types[i] = { ...keep, kind: 5, size: t.size, kindFlag: false, members: [] };
        break;
    }
  }
}

const KSYMS = '.ksyms';
const DUMMY_KSYM = 'dummy_ksym';
const BTF_INT_SIZE = 4;

function ksymsDatasec(btf: Btf): BtfDatasec | undefined {
  const id = btf.findByName(KSYMS, 'datasec');
  return id === undefined ? undefined : (btf.type(id) as BtfDatasec);
}

/**
 * libbpf's bpf_object__collect_externs fix-up of the `.ksyms` DATASEC, which clang leaves with size 0 and which may
 * list FUNCs (kfuncs): every entry becomes a 4-byte slot, VARs are retyped to `int` (an untyped `const void` ksym has
 * no size), FUNC entries point at a dummy `int` VAR (the kernel accepts only VARs in a DATASEC) and their unnamed
 * parameters get a name (the kernel requires named parameters in a FUNC). Appends at most two types: ids stay valid.
 */
export function fixupKsymsDatasec(btf: Btf): void {
  const ds = ksymsDatasec(btf);
  if (!ds || ds.vars.length === 0) return;
  const types = btf.types as BtfType[];
  let intId = btf.findAllByName('int', 'int').find((id) => btf.sizeOf(id) === BTF_INT_SIZE);
  if (intId === undefined) {
    intId = btf.endId;
    types.push({
      id: intId,
      name: 'int',
      nameOff: btf.addString('int'),
      kind: 1,
      size: BTF_INT_SIZE,
      encoding: BTF_INT_SIGNED,
      bitOffset: 0,
      bits: 32,
    });
  }
  let dummyId: number | undefined;
  let off = 0;
  for (const vs of ds.vars) {
    const vt = btf.type(vs.type);
    if (vt.kind === 12) {
      if (dummyId === undefined) {
        dummyId = btf.endId;
        types.push({
          id: dummyId,
          name: DUMMY_KSYM,
          nameOff: btf.addString(DUMMY_KSYM),
          kind: 14,
          type: intId,
          linkage: BTF_VAR_GLOBAL_ALLOCATED,
        });
      }
      const proto = btf.type(vt.type);
      if (proto.kind === 13) {
        for (const prm of proto.params)
          if (prm.type && !prm.nameOff) {
            prm.name = DUMMY_KSYM;
            prm.nameOff = btf.type(dummyId).nameOff;
          }
      }
      vs.type = dummyId;
      if (vt.linkage === BTF_FUNC_EXTERN) vt.linkage = BTF_FUNC_GLOBAL;
    } else if (vt.kind === 14) {
      vt.linkage = BTF_VAR_GLOBAL_ALLOCATED;
      vt.type = intId;
    }
    vs.offset = off;
    vs.size = BTF_INT_SIZE;
    off += BTF_INT_SIZE;
  }
  ds.size = off;
}

/** Loads raw BTF (BPF_BTF_LOAD); throws BtfLoadError with the kernel's log on rejection. */
export function loadRawBtf(bytes: Uint8Array, what = 'object BTF'): OwnedFd {
  const r = tryLoad(bytes, false);
  if (r >= 0) return new OwnedFd(r, what);
  // Load again with a log so the error can say why.
  let size = 64 * 1024;
  for (;;) {
    const log = new Uint8Array(size);
    const rr = tryLoad(bytes, true, log);
    if (rr >= 0) return new OwnedFd(rr, what);
    if (rr === -ENOSPC && size < 1 << 26) {
      size *= 4;
      continue;
    }
    const nul = log.indexOf(0);
    throw new BtfLoadError(-rr, Buffer.from(log.buffer, 0, nul < 0 ? log.length : nul).toString('utf8'), what);
  }
}

function tryLoad(bytes: Uint8Array, withLog: boolean, log?: Uint8Array): number {
  const a = new Attr(40).ptr(0, bytes).u32(16, bytes.byteLength);
  if (withLog && log) a.ptr(8, log).u32(20, log.byteLength).u32(24, 1);
  return bpfRaw(BPF_CMD.btf_load, a.bytes);
}

let probed: BtfFeatures | undefined;

/** Probes which BTF kinds this kernel accepts by loading one tiny blob per feature (cached). */
export function probeBtfFeatures(): BtfFeatures {
  if (probed) return probed;
  const ok = (types: number[], strings: string): boolean => {
    const r = tryLoad(rawBtf(types, strings), false);
    if (r >= 0) {
      new OwnedFd(r, 'probe').close();
      return true;
    }
    return false;
  };
  const INT = (nameOff: number) => [nameOff, 1 << 24, 4, 32]; // int, 4 bytes, 32 bits
  probed = {
    // [1] int; [2] FUNC_PROTO void(); [3] FUNC "a" static
    func: ok([...INT(0), 0, 13 << 24, 0, 1, (12 << 24) | 0, 2], '\0a\0'),
    funcGlobal: ok([...INT(0), 0, 13 << 24, 0, 1, (12 << 24) | 1, 2], '\0a\0'),
    // [1] int; [2] VAR "a" int static; [3] DATASEC ".d" { [2] at 0, 4 }
    datasec: ok([...INT(0), 1, 14 << 24, 1, 0, 3, (15 << 24) | 1, 4, 2, 0, 4], '\0a\0.d\0'),
    float: ok([1, 16 << 24, 4], '\0f\0'),
    // [1] int; [2] VAR "a"; [3] DECL_TAG "t" -> var, component -1
    declTag: ok([...INT(0), 1, 14 << 24, 1, 0, 3, 17 << 24, 2, 0xffffffff], '\0a\0t\0'),
    // [1] int; [2] TYPE_TAG "t" -> int; [3] PTR -> 2
    typeTag: ok([...INT(0), 1, 18 << 24, 1, 0, 2 << 24, 2], '\0t\0'),
    // [1] ENUM64 "e" size 8 { "a" = 1 }
    enum64: ok([1, (19 << 24) | 1, 8, 3, 1, 0], '\0e\0a\0'),
  };
  return probed;
}

function rawBtf(words: number[], strings: string): Uint8Array {
  const str = Buffer.from(strings, 'latin1');
  const typeLen = words.length * 4;
  const out = new Uint8Array(24 + typeLen + str.length);
  const v = new DataView(out.buffer);
  v.setUint16(0, 0xeb9f, true);
  out[2] = 1;
  v.setUint32(4, 24, true);
  v.setUint32(8, 0, true);
  v.setUint32(12, typeLen, true);
  v.setUint32(16, typeLen, true);
  v.setUint32(20, str.length, true);
  for (const [i, w] of words.entries()) v.setUint32(24 + i * 4, w >>> 0, true);
  out.set(str, 24 + typeLen);
  return out;
}

/**
 * Loads object BTF the way libbpf does: sanitise extern linkage, load; if the kernel refuses, probe its BTF features,
 * strip what it lacks and try again. The BTF is modified in place (callers keep using its type ids).
 * Throws BtfLoadError (with the kernel log) when even the sanitised BTF is refused.
 */
export function loadObjectBtf(btf: Btf, what = 'object BTF'): OwnedFd {
  // `.ksyms` is rewritten on a copy: the loader still needs the externs' real types for the next load of this spec.
  if (ksymsDatasec(btf)?.vars.length) {
    btf = Btf.parse(btf.encode());
    fixupKsymsDatasec(btf);
  }
  sanitizeBtf(btf, ALL_BTF_FEATURES);
  try {
    return loadRawBtf(btf.encode(), what);
  } catch (e) {
    if (!(e instanceof BtfLoadError)) throw e;
    const f = probeBtfFeatures();
    if (Object.values(f).every(Boolean)) throw e;
    sanitizeBtf(btf, f);
    return loadRawBtf(btf.encode(), what);
  }
}
