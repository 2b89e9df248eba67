/**
 * Global data of a BPF object (`.rodata`, `.data`, `.bss`, `.kconfig`, `.data.x`) as typed variables over bytes.
 * Pure: the bytes are a spec's map contents until a loader binds the view to the map's mmap'd memory.
 */
import { BpfObjectError } from './errors.js';
import type { Btf } from './btf.js';
import { btfLayout } from './btf-layout.js';
import { t, type Layout } from './layout.js';

export { BpfObjectError };

/** A layout whose value type is what it decodes to (`t.u64` is bigint though it also encodes numbers). */
export type LayoutOf<T> = Omit<Layout<unknown>, 'decode'> & { decode(view: DataView, offset?: number): T };

/** A variable of a global data section. */
export interface GlobalVariable {
  name: string;
  /** Byte offset in its section. */
  offset: number;
  size: number;
  /** BTF type id (object BTF); 0 without BTF. */
  type: number;
  /** Codec of the variable (from BTF; raw bytes or an unsigned int when BTF is missing or unusable). */
  layout: Layout<any>;
}

/** A variable whose layout is built on first use (layouts compile decoders: too slow to build for every parse). */
export function lazyVariable(btf: Btf, name: string, offset: number, size: number, type: number): GlobalVariable {
  let layout: Layout<any> | undefined;
  return {
    name,
    offset,
    size,
    type,
    get layout(): Layout<any> {
      if (!layout) {
        try {
          layout = btfLayout(btf, type);
        } catch {
          layout = t.bytes(size);
        }
        if (layout.size !== size) layout = t.bytes(size);
      }
      return layout;
    },
  };
}

/** A variable known only from its ELF symbol: an unsigned int of its size, or raw bytes. */
export function rawVariable(name: string, offset: number, size: number): GlobalVariable {
  const ints: Record<number, Layout<any>> = { 1: t.u8, 2: t.u16, 4: t.u32, 8: t.u64 };
  return { name, offset, size, type: 0, layout: ints[size] ?? t.bytes(size) };
}

/**
 * One global data section as typed variables. Reads and writes go to the backing bytes — a spec's initial
 * contents before load, the map's memory (mmap) after a loader binds it, so the program sees `.data`/`.bss`
 * writes at once. `.rodata` is frozen at load: set it before.
 */
export class GlobalData {
  readonly section: string;
  readonly size: number;
  readonly readOnly: boolean;
  readonly variables: ReadonlyMap<string, GlobalVariable>;
  #view: DataView;
  #bytes: Uint8Array;
  #frozen = false;
  #vars: Record<string, any> | undefined;

  /**
   * @param bytes backing storage, used in place (not copied); its length is the section size.
   */
  constructor(section: string, bytes: Uint8Array, readOnly: boolean, variables: ReadonlyMap<string, GlobalVariable>) {
    this.section = section;
    this.size = bytes.length;
    this.readOnly = readOnly;
    this.variables = variables;
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  }

  /** Variable names. */
  get names(): string[] {
    return [...this.variables.keys()];
  }

  #var(name: string): GlobalVariable {
    const v = this.variables.get(name);
    if (!v)
      throw new RangeError(
        `tsbpf: ${this.section} has no variable "${name}" (variables: ${this.names.join(', ') || 'none'})`,
      );
    return v;
  }

  /**
   * Reads a variable (from the map's memory after load) with its BTF layout, or with `layout` (typed; it must
   * have the variable's size: generated bindings pass theirs).
   */
  get(name: string): any;
  get<T>(name: string, layout: LayoutOf<T>): T;
  get(name: string, layout?: Layout<unknown>): unknown {
    const v = this.#var(name);
    return this.#layoutOf(v, layout).decode(this.#view, v.offset);
  }

  /** Writes a variable (with its BTF layout, or `layout`). `.rodata` only before load(). */
  set(name: string, value: any): void;
  set<T>(name: string, layout: LayoutOf<T>, value: T): void;
  set(name: string, ...args: unknown[]): void {
    const v = this.#var(name);
    const layout = args.length > 1 ? this.#layoutOf(v, args[0] as Layout<unknown>) : v.layout;
    if (this.#frozen)
      throw new TypeError(`tsbpf: ${this.section} is read-only after load() (set "${name}" before loading)`);
    layout.encode(args.length > 1 ? args[1] : args[0], this.#view, v.offset);
  }

  #layoutOf(v: GlobalVariable, layout: Layout<unknown> | undefined): Layout<unknown> {
    if (layout === undefined) return v.layout;
    if (layout.size !== v.size)
      throw new RangeError(
        `tsbpf: ${this.section} variable "${v.name}" is ${v.size} bytes, the layout given is ${layout.size} (${layout})`,
      );
    return layout;
  }

  /** Property-style access: `data.vars.counter`, `rodata.vars.target = 5`. */
  get vars(): Record<string, any> {
    this.#vars ??= new Proxy(Object.create(null), {
      get: (_, k) => (typeof k === 'string' ? this.get(k) : undefined),
      set: (_, k, val) => {
        if (typeof k !== 'string') return false;
        this.set(k, val);
        return true;
      },
      has: (_, k) => typeof k === 'string' && this.variables.has(k),
      ownKeys: () => this.names,
      getOwnPropertyDescriptor: (_, k) =>
        typeof k === 'string' && this.variables.has(k)
          ? { enumerable: true, configurable: true, value: this.get(k), writable: !this.#frozen }
          : undefined,
    });
    return this.#vars!;
  }

  /** A copy of the current bytes. */
  bytes(): Uint8Array {
    return new Uint8Array(this.#view.buffer.slice(this.#view.byteOffset, this.#view.byteOffset + this.size));
  }

  /** @internal The initial contents (the backing bytes before load). */
  initialBytes(): Uint8Array {
    return this.#bytes;
  }

  /** @internal Switch to the map's memory after load (undefined: back to the initial bytes). */
  bind(view: DataView | undefined, frozen: boolean): void {
    this.#view = view
      ? new DataView(view.buffer, view.byteOffset, this.size)
      : new DataView(this.#bytes.buffer, this.#bytes.byteOffset, this.size);
    this.#frozen = frozen;
  }
}
