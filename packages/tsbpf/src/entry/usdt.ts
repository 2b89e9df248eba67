/**
 * `tsbpf/usdt`: USDT (user statically defined tracing) probe notes: parse a binary's `.note.stapsdt`
 * sites and their argument specs, and encode the BPF-side spec records. Pure: never loads the native
 * addon; attaching lives in the main `tsbpf` entry (`attachUsdt`).
 *
 * @packageDocumentation
 * @module tsbpf/usdt
 */
export {
  parseUsdtNotes,
  usdtSites,
  parseUsdtArgs,
  encodeUsdtSpec,
  usdtSpecLayout,
  UsdtError,
  USDT_SPEC_LAYOUT_V1,
  USDT_SPEC_LAYOUT_V2,
  USDT_ARG_TYPE,
} from '../pure/usdt.js';
export type { UsdtNote, UsdtSite, UsdtArg, UsdtArch, UsdtSpecLayout } from '../pure/usdt.js';
