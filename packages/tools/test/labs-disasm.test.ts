// The disassembler's annotated view on a real program: the seed's zero-copy exec tracer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assemble, annotateInstruction } from 'tsbpf';
import { zeroCopyProgram } from '../src/labs/exec-programs.js';

test('annotateInstruction marks the failing instruction among its neighbours', () => {
  const b = assemble(zeroCopyProgram({ fd: 3 }));
  const text = annotateInstruction(b, 7, 2);
  assert.deepEqual(text.split('\n'), [
    '     5: if r0 == 0x0 goto +0x10  ; -> 22',
    '     6: r9 = r0',
    '>    7: call bpf_get_current_pid_tgid',
    '     8: r0 >>= 0x20',
    '     9: *(u32 *)(r9 + 0x0) = w0',
  ]);
  // Index of the second slot of an ld_imm64 points at the ld_imm64.
  assert.match(annotateInstruction(b, 1, 0), /^> {4}0: r1 = map_fd\(3\) ll$/);
  assert.match(annotateInstruction(b, 999), /outside the program/);
});
