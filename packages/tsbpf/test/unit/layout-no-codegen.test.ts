import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import assert from 'node:assert/strict';

/*
 * Struct decoders are generated with new Function. With code generation from strings disabled
 * (node --disallow-code-generation-from-strings, a CSP) the library must still import and decode:
 * the fallback decodes field by field. The same struct and bytes are decoded here and in such a
 * child; the values must be identical.
 */
const SCRIPT = (layoutUrl: string) => `
  import { t } from ${JSON.stringify(layoutUrl)};
  const inner = t.struct({ a: t.u16, b: t.i8 });
  const s = t.struct({
    u8: t.u8, i16: t.i16, u32: t.u32, f32: t.f32, f64: t.f64, u64: t.u64, i64: t.i64, n64: t.u64num,
    ok: t.bool, lo: t.bitfield(3), mid: t.bitfield(5, { shift: 3, signed: true }), pad: t.pad(3),
    big: t.bitfield64(40), name: t.cstring(6), arr: t.array(t.u16, 3), inner, 'not-ident': t.u8,
  });
  const bytes = new Uint8Array(s.size).map((_, i) => (i * 37 + 11) & 0xff);
  const v = s.decode(new DataView(bytes.buffer), 0);
  let generated = true;
  try { new Function('return 1'); } catch { generated = false; }
  process.stdout.write(JSON.stringify({ generated, v }, (_, x) => (typeof x === 'bigint' ? x + 'n' : x)));
`;

function decodeIn(flags: string[]): { generated: boolean; v: unknown } {
  const url = new URL('../../src/pure/layout.ts', import.meta.url).href;
  const r = spawnSync(process.execPath, [...flags, '--import', 'tsx', '--input-type=module', '-e', SCRIPT(url)], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { generated: boolean; v: unknown };
}

test('struct decoding without code generation from strings gives the same values as the generated decoder', () => {
  const normal = decodeIn([]);
  const restricted = decodeIn(['--disallow-code-generation-from-strings']);
  assert.equal(normal.generated, true);
  assert.equal(restricted.generated, false, 'the child ran with code generation disabled');
  assert.deepEqual(restricted.v, normal.v);
});
