/**
 * RecordView: the DataView zero-copy callbacks receive. It is a real DataView over read-only
 * kernel memory (so V8 inlines its getters exactly as for any DataView), with the writers and
 * `.buffer` disabled: a write into a PROT_READ mapping would be SIGSEGV, not an exception.
 */

function readOnly(): never {
  throw new TypeError('tsbpf: records are read-only views of kernel memory; copy them (slice/copyTo) to modify');
}

/**
 * A read-only DataView over an event buffer mapping. Offsets are absolute (the callback's
 * `offset` argument is where the record starts). Valid only during the callback: after it the
 * memory may be reused by the producer, and after close() every access throws.
 */
export class RecordView extends (DataView as new (
  buffer: ArrayBuffer,
  byteOffset?: number,
  byteLength?: number,
) => DataView) {
  /** Copies `length` bytes at `offset` into a new Uint8Array. */
  slice(offset: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    this.copyTo(out, 0, offset, length);
    return out;
  }

  /** Copies `length` bytes at `offset` into `target` at `targetOffset`. */
  copyTo(target: Uint8Array, targetOffset: number, offset: number, length: number): void {
    target.set(new Uint8Array(SUPER_BUFFER.call(this) as ArrayBuffer, this.byteOffset + offset, length), targetOffset);
  }

  /** Decodes `length` bytes at `offset` as UTF-8, stopping at the first NUL (C strings). */
  cString(offset: number, length: number): string {
    let end = 0;
    while (end < length && this.getUint8(offset + end) !== 0) end++;
    return Buffer.from(SUPER_BUFFER.call(this) as ArrayBuffer, this.byteOffset + offset, end).toString('utf8');
  }
}

const SUPER_BUFFER = Object.getOwnPropertyDescriptor(DataView.prototype, 'buffer')!.get!;

for (const name of [
  'setInt8',
  'setUint8',
  'setInt16',
  'setUint16',
  'setInt32',
  'setUint32',
  'setFloat32',
  'setFloat64',
  'setBigInt64',
  'setBigUint64',
]) {
  Object.defineProperty(RecordView.prototype, name, {
    value: readOnly,
    writable: false,
    configurable: false,
    enumerable: false,
  });
}
// `.buffer` would let a caller build a writable Uint8Array over read-only pages.
Object.defineProperty(RecordView.prototype, 'buffer', { get: readOnly, configurable: false, enumerable: false });
