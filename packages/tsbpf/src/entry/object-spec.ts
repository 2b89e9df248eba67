/**
 * `tsbpf/object-spec`: a clang-compiled BPF object (`.o`) parsed into a `ObjectSpec`: programs, maps,
 * global variables, externs, relocations and CO-RE records, inspectable and editable before loading.
 * Section-name parsing (`SEC("xdp")` and friends) lives here too. Pure: never loads the native addon.
 *
 * @packageDocumentation
 * @module tsbpf/object-spec
 */
export { ObjectSpec, coreInstructions, resolveProgramCore } from '../pure/object-spec.js';
export type {
  ProgramSpec,
  ExternSpec,
  VariableSpec,
  ObjectSpecParseOptions,
  InsnRelocation,
  FuncInfoRecord,
  LineInfoRecord,
  CoreRecord,
} from '../pure/object-spec.js';
export { MAP_PIN, STORAGE_MAP_TYPES, resolveMapShape, copyMapSpec } from '../pure/map-spec.js';
export type { MapSpec, MapShape, MapShapeEnv, MapEntrySpec, MapSlotRef, MapSpecOrigin } from '../pure/map-spec.js';
export { parseSectionName, trySectionName, SectionNameError } from '../pure/section-names.js';
export type { SectionInfo, AttachTarget } from '../pure/section-names.js';
export { BpfObjectError, TsbpfError } from '../pure/errors.js';
export { generateTypes, wrapperClassName, objectBaseName } from '../pure/codegen-types.js';
export type { GenTypesOptions, GeneratedModule, GeneratedType } from '../pure/codegen-types.js';
