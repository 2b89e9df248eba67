/**
 * Fuzz: 100k random instruction streams (pure noise, noise biased toward real opcodes, and mutated
 * real programs) never make the disassembler throw, every line is text, and the readable style
 * reassembles to the very same bytes (unknowns carry their raw bytes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assemble, disassemble, decodeProgram, annotateInstruction, parseAsm } from '../support/pure.js';
import { ALL_FORMS } from '../fixtures/asm-forms.js';

const STREAMS = 100_000;

test(`disassembler survives ${STREAMS} random streams and readable output round-trips`, () => {
  let seed = 0x9e3779b9;
  const rnd = () => {
    // xorshift32: deterministic, so a failure names a reproducible stream.
    seed ^= seed << 13;
    seed >>>= 0;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    seed >>>= 0;
    return seed;
  };
  const real = assemble(ALL_FORMS, { maps: { m: { fd: 3 } } });
  const realCodes = Array.from(new Set(Array.from({ length: real.length / 8 }, (_, i) => real[i * 8])));
  let lines = 0;
  let unknown = 0;
  let roundTrips = 0;
  for (let s = 0; s < STREAMS; s++) {
    const kind = s % 3;
    const len = kind === 2 ? 8 * (1 + (rnd() % 8)) : rnd() % 65;
    const bytes = new Uint8Array(len);
    if (kind === 2) {
      // A slice of a real program with a few bytes flipped.
      const start = 8 * (rnd() % (real.length / 8 - 8));
      bytes.set(real.subarray(start, start + len));
      for (let k = rnd() % 3; k > 0; k--) bytes[rnd() % len] ^= 1 << (rnd() % 8);
    } else {
      for (let k = 0; k < len; k++) bytes[k] = rnd() & 0xff;
      // Bias half the noise toward real opcodes and small register numbers so decoding goes deep.
      if (kind === 1)
        for (let k = 0; k + 8 <= len; k += 8) {
          bytes[k] = realCodes[rnd() % realCodes.length];
          bytes[k + 1] &= 0x9a;
        }
    }
    let text: string[];
    try {
      text = disassemble(bytes, { style: s % 2 ? 'readable' : 'llvm', hex: s % 4 < 2 });
      decodeProgram(bytes);
      if (len >= 8) annotateInstruction(bytes, rnd() % (len / 8), 2);
    } catch (e) {
      assert.fail(`stream ${s} (${Buffer.from(bytes).toString('hex')}) threw: ${String(e)}`);
    }
    for (const line of text) assert.equal(typeof line, 'string');
    lines += text.length;
    unknown += text.filter((l) => l.startsWith('<unknown>')).length;
    if (len % 8 === 0 && s % 2 === 1) {
      const back = assemble(parseAsm(text));
      assert.equal(
        Buffer.from(back).toString('hex'),
        Buffer.from(bytes).toString('hex'),
        `stream ${s}: ${text.join(' | ')}`,
      );
      roundTrips++;
    }
  }
  assert.ok(lines > STREAMS && unknown > 0 && unknown < lines, `${lines} lines, ${unknown} unknown`);
  assert.ok(roundTrips > 20_000, `${roundTrips} readable round trips`);
});
