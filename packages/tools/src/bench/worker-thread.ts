/**
 * Starts a bench worker module that sits beside its caller: the compiled `.js` once built; under tsx
 * (the tests run the bench from source) the worker registers tsx's loader itself first, because module
 * hooks are per thread and `--import` in a worker's execArgv does not install them before its module loads.
 */
import { Worker } from 'node:worker_threads';

/** `new Worker` for `<name>.js` (or `.ts` from source) in the directory of `callerUrl` (the caller's import.meta.url). */
export function benchWorker(callerUrl: string, name: string, workerData: unknown): Worker {
  if (!callerUrl.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, callerUrl), { workerData });
  const tsx = import.meta.resolve('tsx/esm/api');
  const mod = new URL(`./${name}.ts`, callerUrl).href;
  return new Worker(
    `import(${JSON.stringify(tsx)}).then((t) => { t.register(); return import(${JSON.stringify(mod)}); })`,
    { eval: true, workerData },
  );
}
