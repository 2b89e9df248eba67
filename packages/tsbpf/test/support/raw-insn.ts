/** Hand-encoded instructions for core tests that must not depend on the assembler. */
export function insn(op: number, dst: number, src: number, off: number, imm: number): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint8(0, op);
  v.setUint8(1, (dst & 0xf) | ((src & 0xf) << 4));
  v.setInt16(2, off, true);
  v.setInt32(4, imm, true);
  return b;
}

export function program(...insns: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(insns.length * 8);
  for (const [i, x] of insns.entries()) out.set(x, i * 8);
  return out;
}

/** r0 = imm; exit */
export function returnImm(imm: number): Uint8Array {
  return program(insn(0xb7, 0, 0, 0, imm), insn(0x95, 0, 0, 0, 0));
}

/** Looks up key 0 of an array map of u64 and stores `value` into it; returns 2. */
export function storeToArrayMap(mapFd: number, value: number): Uint8Array {
  return program(
    insn(0x62, 10, 0, -4, 0), // *(u32 *)(r10 - 4) = 0
    insn(0xbf, 2, 10, 0, 0), // r2 = r10
    insn(0x07, 2, 0, 0, -4), // r2 += -4
    insn(0x18, 1, 1, 0, mapFd),
    insn(0, 0, 0, 0, 0), // r1 = map fd
    insn(0x85, 0, 0, 0, 1), // call bpf_map_lookup_elem
    insn(0x15, 0, 0, 2, 0), // if r0 == 0 goto +2
    insn(0xb7, 1, 0, 0, value), // r1 = value
    insn(0x7b, 0, 1, 0, 0), // *(u64 *)(r0 + 0) = r1
    insn(0xb7, 0, 0, 0, 2), // r0 = 2
    insn(0x95, 0, 0, 0, 0), // exit
  );
}
