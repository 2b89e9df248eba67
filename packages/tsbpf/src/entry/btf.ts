/**
 * `tsbpf/btf`: BTF and .BTF.ext parsing (kernel `/sys/kernel/btf/vmlinux` blobs or an object's
 * sections), a BTF builder, BTF-defined map definitions and layouts derived from BTF structs. Pure:
 * never loads the native addon.
 *
 * @packageDocumentation
 * @module tsbpf/btf
 */
export {
  Btf,
  BtfError,
  BTF_KIND,
  btfKindName,
  BTF_MAGIC,
  BTF_INT_SIGNED,
  BTF_INT_CHAR,
  BTF_INT_BOOL,
  BTF_FUNC_STATIC,
  BTF_FUNC_GLOBAL,
  BTF_FUNC_EXTERN,
  BTF_VAR_STATIC,
  BTF_VAR_GLOBAL_ALLOCATED,
  BTF_VAR_GLOBAL_EXTERN,
} from '../pure/btf.js';
export type {
  BtfKindName,
  BtfVoid,
  BtfInt,
  BtfRef,
  BtfArray,
  BtfMember,
  BtfComposite,
  BtfEnumValue,
  BtfEnum,
  BtfEnum64Value,
  BtfEnum64,
  BtfFwd,
  BtfFunc,
  BtfParam,
  BtfFuncProto,
  BtfVar,
  BtfVarSecinfo,
  BtfDatasec,
  BtfFloat,
  BtfDeclTag,
  BtfType,
  BtfHeader,
  BtfMemberLocation,
  BtfParseOptions,
  BtfTypeBase,
} from '../pure/btf.js';
export { BtfExt, CORE_RELO_KIND, coreReloKindName, encodeFuncInfo, encodeLineInfo } from '../pure/btf-ext.js';
export type {
  CoreReloKindName,
  BtfExtHeader,
  BtfFuncInfo,
  BtfLineInfo,
  BtfCoreRelo,
  BtfExtSection,
} from '../pure/btf-ext.js';
export { BtfBuilder, type BtfBuilderParam } from '../pure/btf-builder.js';
export { parseBtfMaps, type BtfMapDefinition } from '../pure/btf-maps.js';
export {
  btfLayout,
  btfStructLayout,
  BtfStructLayout,
  BitfieldLayout,
  type BtfLayoutOptions,
} from '../pure/btf-layout.js';
export type { Layout, StructLayout } from '../pure/layout.js';
export { TsbpfError } from '../pure/errors.js';
