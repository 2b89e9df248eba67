/**
 * The soak reader's per-record check, kept apart from the reader (which attaches a tracer at import)
 * so it can be unit-tested without a kernel. The live bench's consumers use its sequence part (advance).
 *
 * The generator (bench/c/syscall_loop.c) may run several threads; thread k numbers its calls
 * seq = k·2^40 + i, i = 0, 1, ..., so each thread's sequence is strictly increasing on its own
 * while the threads interleave freely in the ring. A record is good when its length, syscall id and
 * tgid are the expected ones, its thread index is one the generator has, and its call number is past
 * the last one seen from that thread (drops leave gaps; a repeat or a step back is corruption).
 */

/** The thread index's weight in a sequence number (syscall_loop.c's SEQ_THREAD_SHIFT = 40). */
export const SEQ_THREAD_UNIT = 2 ** 40;

export class SeqChecker {
  /** Per generator thread: its next call number must be at least this. */
  readonly minSeq: number[];

  constructor(readonly expect: { threads: number; len: number; id: number; tgid: number }) {
    if (!Number.isInteger(expect.threads) || expect.threads < 1)
      throw new RangeError(`threads must be a positive integer (got ${expect.threads})`);
    this.minSeq = new Array<number>(expect.threads).fill(0);
  }

  /** Checks one record's fields and advances its thread's sequence; false = corrupt (nothing advanced). */
  check(len: number, seq: number, id: number, tgid: number): boolean {
    const e = this.expect;
    if (len !== e.len || id !== e.id || tgid !== e.tgid) return false;
    return this.advance(seq);
  }

  /**
   * The sequence part of check(), alone (the live bench's consumers, whose tracer keeps only the
   * generator's calls): advances seq's thread past it; false (nothing advanced) for a thread index
   * the generator does not have, a repeat or a step back. A gap (drops) is fine.
   */
  advance(seq: number): boolean {
    const m = this.minSeq;
    const k = Math.floor(seq / SEQ_THREAD_UNIT);
    if (k >= m.length) return false;
    const i = seq - k * SEQ_THREAD_UNIT;
    if (i < m[k]!) return false;
    m[k] = i + 1;
    return true;
  }

  /**
   * Calls the generator had issued up to the last recorded one of each thread: the sum over threads
   * of (last call number seen + 1). Bounds the produced count when the generator is killed before it
   * can report it (a thread whose last few events were lost is undercounted by those few).
   */
  get nextSeq(): number {
    let n = 0;
    for (const m of this.minSeq) n += m;
    return n;
  }
}
