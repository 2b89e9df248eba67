/**
 * Compile-time tests: the kernel-object classes that only tsbpf makes (from a parse, a load or an attach)
 * cannot be constructed by users; each `@ts-expect-error` must mark a real error. Never run.
 * test/unit/types.test.ts runs the compiler.
 */
import { type BpfObject, IterLink, ObjectProgram, ObjectSpec, SocketFilter, UsdtLink } from '../../src/index.js';

declare const object: BpfObject;
declare const spec: ObjectSpec;

// @ts-expect-error ObjectSpec comes from ObjectSpec.parse or copy()
new ObjectSpec();
// @ts-expect-error ObjectProgram comes from a BpfObject's programs
new ObjectProgram(object, spec.programs.x!);
// @ts-expect-error SocketFilter comes from attachSocket()
new SocketFilter(3, 'socket');
// @ts-expect-error IterLink comes from attachIter()
new IterLink([], 'iter');
// @ts-expect-error UsdtLink comes from attachUsdt()
new UsdtLink([], 'usdt', [], () => {});

// What users do instead still type-checks.
export const copied: ObjectSpec = spec.copy();
export const programs: Record<string, ObjectProgram> = object.programs;
