/**
 * BTF-defined map definitions: decode the `.maps` DATASEC of a clang-compiled object the way libbpf's
 * `parse_btf_map_def` does. `__uint(name, N)` is `int (*name)[N]` (pointer to an array of N elements),
 * `__type(name, T)` is `T *name`, `__array(values, struct inner)` is a flexible array of pointers to the inner
 * map's definition.
 */
import { type Btf, BtfError, type BtfComposite } from './btf.js';

/** One map declared in `.maps`. Absent attributes are undefined (the loader applies defaults). */
export interface BtfMapDefinition {
  /** Variable name (the map's name). */
  name: string;
  /** Byte offset of the variable in the `.maps` section (relocations point here). */
  offset: number;
  /** Byte size of the variable. */
  size: number;
  /** BTF id of the VAR. */
  varId: number;
  /** BPF_MAP_TYPE_* number. */
  type?: number;
  keySize?: number;
  valueSize?: number;
  /** BTF type ids from `__type(key, T)` / `__type(value, T)` (for BTF-typed maps and typed decoding). */
  keyType?: number;
  valueType?: number;
  maxEntries?: number;
  mapFlags?: number;
  numaNode?: number;
  /** LIBBPF_PIN_* (0 none, 1 by name). */
  pinning?: number;
  mapExtra?: number;
  /** Map-in-map: the inner map's definition from `__array(values, struct inner)`. */
  inner?: BtfMapDefinition;
  /** Prog arrays: `__array(values, int (void *))` gives the function prototype id. */
  valuesProto?: number;
}

const UINT_ATTRS: Record<string, keyof BtfMapDefinition> = {
  type: 'type',
  max_entries: 'maxEntries',
  map_flags: 'mapFlags',
  numa_node: 'numaNode',
  key_size: 'keySize',
  value_size: 'valueSize',
  pinning: 'pinning',
  map_extra: 'mapExtra',
};

/** All map definitions of a `.maps`-style DATASEC (empty when the object has none). */
export function parseBtfMaps(btf: Btf, sectionName = '.maps'): BtfMapDefinition[] {
  const secId = btf.findByName(sectionName, 'datasec');
  if (secId === undefined) return [];
  const sec = btf.type(secId);
  if (sec.kind !== 15) return [];
  return sec.vars.map((vs) => {
    const v = btf.type(vs.type);
    if (v.kind !== 14)
      throw new BtfError(`${sectionName}: entry ${vs.type} is ${btf.describe(vs.type)}, not a variable`);
    const def = parseMapStruct(btf, v.name, v.type, 0);
    return { ...def, name: v.name, offset: vs.offset, size: vs.size, varId: v.id };
  });
}

function parseMapStruct(btf: Btf, name: string, typeId: number, depth: number): BtfMapDefinition {
  if (depth > 2) throw new BtfError(`map '${name}': map-in-map nesting too deep`);
  const st = btf.resolved(typeId);
  if (st.kind !== 4) throw new BtfError(`map '${name}': definition is ${btf.describe(typeId)}, expected a struct`);
  const def: BtfMapDefinition = { name, offset: 0, size: st.size, varId: 0 };
  for (const m of (st as BtfComposite).members) {
    const attr = UINT_ATTRS[m.name];
    if (attr) {
      (def as any)[attr] = uintAttr(btf, name, m.name, m.type);
      continue;
    }
    if (m.name === 'key' || m.name === 'value') {
      const p = btf.resolved(m.type);
      if (p.kind !== 2)
        throw new BtfError(
          `map '${name}': ${m.name} must be a pointer (__type(${m.name}, T)), got ${btf.describe(m.type)}`,
        );
      const size = btf.sizeOf(p.type);
      if (m.name === 'key') {
        def.keyType = p.type;
        def.keySize = checkSame(name, 'key_size', def.keySize, size);
      } else {
        def.valueType = p.type;
        def.valueSize = checkSame(name, 'value_size', def.valueSize, size);
      }
      continue;
    }
    if (m.name === 'values') {
      const arr = btf.resolved(m.type);
      if (arr.kind !== 3 || arr.nelems !== 0)
        throw new BtfError(`map '${name}': values must be a flexible array (__array(values, ...))`);
      const p = btf.resolved(arr.type);
      if (p.kind !== 2) throw new BtfError(`map '${name}': values elements must be pointers`);
      const target = btf.resolved(p.type);
      if (target.kind === 13) def.valuesProto = target.id;
      else def.inner = parseMapStruct(btf, `${name}.inner`, p.type, depth + 1);
      continue;
    }
    throw new BtfError(`map '${name}': unknown map attribute '${m.name}'`);
  }
  return def;
}

function uintAttr(btf: Btf, map: string, attr: string, typeId: number): number {
  const p = btf.resolved(typeId);
  if (p.kind !== 2)
    throw new BtfError(
      `map '${map}': attribute '${attr}' must be __uint(${attr}, N) (a pointer to an array), got ${btf.describe(typeId)}`,
    );
  const a = btf.resolved(p.type);
  if (a.kind !== 3)
    throw new BtfError(`map '${map}': attribute '${attr}' must point to an array, got ${btf.describe(p.type)}`);
  return a.nelems;
}

function checkSame(map: string, what: string, prev: number | undefined, size: number): number {
  if (prev !== undefined && prev !== size)
    throw new BtfError(`map '${map}': ${what} ${prev} conflicts with the type's size ${size}`);
  return size;
}
