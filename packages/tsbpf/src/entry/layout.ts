/**
 * `tsbpf/layout`: typed binary layouts (`t.u32`, `t.struct`, arrays, C strings) that encode and decode
 * map keys, values and event records. Pure: never loads the native addon.
 *
 * @packageDocumentation
 * @module tsbpf/layout
 */
export {
  t,
  isLayout,
  BaseLayout,
  NumberLayout,
  BigIntLayout,
  U64NumberLayout,
  CStringLayout,
  BytesLayout,
  ArrayLayout,
  PadLayout,
  BoolLayout,
  BitfieldLayout,
} from '../pure/layout.js';
export type {
  Layout,
  Infer,
  StructValue,
  StructLayout,
  StructFields,
  NumberKind,
  StructPlacement,
} from '../pure/layout.js';
