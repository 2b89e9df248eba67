/**
 * Resolution of `__ksym` externs for the running kernel, as libbpf's bpf_object__resolve_externs /
 * bpf_object__resolve_ksyms_btf_id / bpf_object__read_kallsyms_file:
 * - kfuncs (`extern int bpf_foo(...) __ksym;`) → their FUNC's BTF id in vmlinux or in a module's BTF (the module's
 *   BTF object fd goes into the program's fd_array, its index into the call's `off`), after checking that the
 *   prototype is compatible;
 * - typed ksyms (`extern const struct rq runqueues __ksym;`) → the kernel VAR's BTF id (BPF_PSEUDO_BTF_ID load);
 * - untyped ksyms (`extern const void sym __ksym;`) → their address from /proc/kallsyms;
 * - unresolved `__weak` externs → 0 / a poisoned call, so `bpf_ksym_exists()` is false; an unresolved strong one
 *   is a BpfObjectError naming it.
 * The instruction patching itself is pure (pure/ksym-patch.ts).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { Btf } from '../pure/btf.js';
import { essentialName, typesCompat } from '../pure/core-relo.js';
import { BpfObjectError } from '../pure/errors.js';
import { parseKallsyms, type KsymResolution } from '../pure/ksym-patch.js';
import { BPF_CMD } from '../pure/uapi.js';
import { vmlinuxBtf } from './attach-tracing.js';
import { Attr, bpfRaw, OwnedFd } from './syscall.js';

export { parseKallsyms, type KsymResolution } from '../pure/ksym-patch.js';

const KALLSYMS = '/proc/kallsyms';
const SYS_BTF = '/sys/kernel/btf';
const BTF_KIND_VAR = 14;
const BTF_KIND_FUNC = 12;
const BTF_INFO_SIZE = 32;
const NAME_MAX = 64;
const ENOENT = 2;

/** One `__ksym` extern to resolve (an ObjectSpec ExternSpec of kind ksym or kfunc). */
export interface KsymExtern {
  name: string;
  kind: 'ksym' | 'kfunc';
  weak: boolean;
  /** The VAR / FUNC in the object's BTF (0 without BTF: an untyped ksym). */
  typeId: number;
}

/** A module's BTF: parsed (split on vmlinux) with its kernel object fd, opened on first use. */
interface ModuleBtf {
  name: string;
  btf: Btf;
  fd?: OwnedFd;
}

/**
 * Resolves the `__ksym` externs of one object load. Keeps the module BTF fds it opened until close() (after the
 * programs are loaded: the kernel holds its own references then).
 */
export class KsymResolver {
  #modules: ModuleBtf[] | undefined;
  #fdArray: number[] = [0];
  #fdIndex = new Map<ModuleBtf, number>();

  /** fd_array for BPF_PROG_LOAD when a kfunc lives in a module (index 0 is vmlinux), else undefined. */
  get fdArray(): Uint32Array | undefined {
    return this.#fdArray.length > 1 ? Uint32Array.from(this.#fdArray) : undefined;
  }

  /** Resolves every extern; throws BpfObjectError for a strong one the kernel does not have, or an incompatible type. */
  resolve(externs: readonly KsymExtern[], objectBtf: Btf | undefined): Map<string, KsymResolution> {
    const out = new Map<string, KsymResolution>();
    const untyped = externs.filter((e) => e.kind === 'ksym' && !this.#localVarType(objectBtf, e));
    const addrs = untyped.length
      ? readKallsyms(new Set(untyped.map((e) => essentialName(e.name))))
      : new Map<string, bigint>();
    for (const e of externs) {
      if (e.kind === 'kfunc') out.set(e.name, this.#kfunc(e, objectBtf));
      else if (untyped.includes(e)) {
        const addr = addrs.get(essentialName(e.name));
        if (addr === undefined && !e.weak)
          throw new BpfObjectError(`extern (ksym) '${e.name}': no such symbol in ${KALLSYMS}`);
        out.set(e.name, { kind: 'addr', addr: addr ?? 0n });
      } else out.set(e.name, this.#typedKsym(e, objectBtf!));
    }
    return out;
  }

  close(): void {
    for (const m of this.#modules ?? []) m.fd?.close();
  }

  /** The local VAR's type id with modifiers skipped; 0 (untyped) for `void`. */
  #localVarType(btf: Btf | undefined, e: KsymExtern): number {
    if (!btf || !e.typeId) return 0;
    const v = btf.type(e.typeId);
    if (v.kind !== BTF_KIND_VAR) return 0;
    return btf.resolve(v.type);
  }

  #typedKsym(e: KsymExtern, local: Btf): KsymResolution {
    const localType = this.#localVarType(local, e);
    const hit = this.#find(essentialName(e.name), BTF_KIND_VAR);
    if (!hit) {
      if (e.weak) return { kind: 'addr', addr: 0n };
      throw new BpfObjectError(
        `extern (ksym) '${e.name}': no variable '${e.name}' in the kernel's BTF${this.#modules?.length ? " or its modules'" : ''} (is it a per-CPU or global variable of this kernel?)`,
      );
    }
    const kv = hit.btf.type(hit.id) as { type: number };
    if (!typesCompat(local, localType, hit.btf, kv.type)) {
      throw new BpfObjectError(
        `extern (ksym) '${e.name}': its type ${local.describe(localType)} does not match the kernel's ${hit.btf.describe(kv.type)}`,
      );
    }
    return this.#btfRes(hit);
  }

  #kfunc(e: KsymExtern, local: Btf | undefined): KsymResolution {
    // `bpf_foo___v2`: libbpf looks kfuncs and ksyms up by their essential name (flavors for prototypes that changed).
    const hit = this.#find(essentialName(e.name), BTF_KIND_FUNC);
    if (!hit) {
      if (e.weak) return { kind: 'missing' };
      throw new BpfObjectError(
        `extern (kfunc) '${e.name}': no function '${e.name}' in the kernel's BTF${this.#modules?.length ? " or its modules'" : ''} (not a kfunc of this kernel; declare it __weak and guard calls with bpf_ksym_exists() to make it optional)`,
      );
    }
    if (local && e.typeId) {
      const lf = local.type(e.typeId) as { kind: number; type: number };
      const kf = hit.btf.type(hit.id) as { type: number };
      if (lf.kind === BTF_KIND_FUNC && !typesCompat(local, lf.type, hit.btf, kf.type)) {
        // libbpf: a weak kfunc whose prototype does not match is treated as missing (bpf_ksym_exists() false).
        if (e.weak) return { kind: 'missing' };
        throw new BpfObjectError(
          `extern (kfunc) '${e.name}': its prototype does not match the kernel's ${hit.btf.describe(kf.type)}`,
        );
      }
    }
    return this.#btfRes(hit);
  }

  #btfRes(hit: { module?: ModuleBtf; id: number }): KsymResolution {
    if (!hit.module) return { kind: 'btf', btfId: hit.id, btfObjFd: 0, fdIndex: 0 };
    const m = hit.module;
    m.fd ??= moduleBtfFd(m.name);
    let idx = this.#fdIndex.get(m);
    if (idx === undefined) {
      idx = this.#fdArray.length;
      this.#fdArray.push(m.fd.fd);
      this.#fdIndex.set(m, idx);
    }
    return { kind: 'btf', btfId: hit.id, btfObjFd: m.fd.fd, fdIndex: idx };
  }

  /** vmlinux first, then modules (parsed on first miss), as libbpf's find_ksym_btf_id. */
  #find(name: string, kind: number): { btf: Btf; id: number; module?: ModuleBtf } | undefined {
    const vm = vmlinuxBtf();
    const id = vm.findByName(name, kind);
    if (id !== undefined) return { btf: vm, id };
    this.#modules ??= moduleBtfs(vm);
    for (const m of this.#modules) {
      const mid = m.btf.findAllByName(name, kind).find((x) => x >= m.btf.startId);
      if (mid !== undefined) return { btf: m.btf, id: mid, module: m };
    }
    return undefined;
  }
}

let kallsymsCache: { wanted: Set<string>; addrs: Map<string, bigint> } | undefined;

/** Addresses of `names` from /proc/kallsyms (missing names are absent; an unreadable file gives an empty map). */
export function readKallsyms(names: ReadonlySet<string>): Map<string, bigint> {
  if (kallsymsCache && [...names].every((n) => kallsymsCache!.wanted.has(n))) return kallsymsCache.addrs;
  let text: string;
  try {
    text = readFileSync(KALLSYMS, 'utf8');
  } catch {
    return new Map();
  }
  const wanted = new Set([...names, ...(kallsymsCache?.wanted ?? [])]);
  const addrs = parseKallsyms(text, wanted);
  kallsymsCache = { wanted, addrs };
  return addrs;
}

function moduleBtfs(vm: Btf): ModuleBtf[] {
  let names: string[];
  try {
    names = readdirSync(SYS_BTF).filter((n) => n !== 'vmlinux');
  } catch {
    return [];
  }
  const out: ModuleBtf[] = [];
  for (const name of names) {
    try {
      out.push({ name, btf: Btf.parse(readFileSync(`${SYS_BTF}/${name}`), { base: vm }) });
    } catch {
      /* unreadable or malformed: skip, as libbpf */
    }
  }
  return out;
}

/** The kernel BTF object of module `name` (BPF_BTF_GET_NEXT_ID / BPF_BTF_GET_FD_BY_ID / info name). */
function moduleBtfFd(name: string): OwnedFd {
  let id = 0;
  for (;;) {
    const next = new Attr(8).u32(0, id);
    if (bpfRaw(BPF_CMD.btf_get_next_id, next.bytes) < 0) break;
    id = next.getU32(4);
    const fd = bpfRaw(BPF_CMD.btf_get_fd_by_id, new Attr(12).u32(0, id).bytes);
    if (fd < 0) continue;
    const owned = new OwnedFd(fd, `BTF of module ${name}`);
    const nameBuf = new Uint8Array(NAME_MAX);
    const info = new Attr(BTF_INFO_SIZE).ptr(16, nameBuf).u32(24, NAME_MAX);
    const r = bpfRaw(
      BPF_CMD.obj_get_info_by_fd,
      new Attr(16).u32(0, fd).u32(4, BTF_INFO_SIZE).ptr(8, info.bytes).bytes,
    );
    const nul = nameBuf.indexOf(0);
    if (
      r >= 0 &&
      info.getU32(28) !== 0 &&
      Buffer.from(nameBuf.subarray(0, nul < 0 ? NAME_MAX : nul)).toString() === name
    )
      return owned;
    owned.close();
  }
  throw new BpfObjectError(
    `kernel module '${name}' has BTF in ${SYS_BTF} but no BTF object (errno ${ENOENT}): cannot pass its kfuncs to the verifier`,
  );
}
