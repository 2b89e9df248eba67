/**
 * `tsbpf/core`: CO-RE (compile once, run everywhere) relocation: resolve a clang `.BTF.ext` relocation
 * against a target kernel's BTF and rewrite the instruction. Pure: never loads the native addon.
 *
 * @packageDocumentation
 * @module tsbpf/core
 */
export { resolveCoreRelo, applyCoreRelo, essentialName, CoreReloError } from '../pure/core-relo.js';
export type { CoreReloResult } from '../pure/core-relo.js';
// Types the signatures above use (their full modules are tsbpf/btf).
export type { Btf } from '../pure/btf.js';
export type { BtfCoreRelo } from '../pure/btf-ext.js';
export type { RawInsn } from '../pure/insn.js';
export { TsbpfError } from '../pure/errors.js';
