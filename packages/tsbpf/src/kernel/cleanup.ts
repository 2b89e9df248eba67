/**
 * Never leave programs behind: a registry of every open Link, and closeOnExit() which closes them
 * (plus anything else registered) on SIGINT/SIGTERM/SIGHUP before the process dies of that signal.
 * Unpinned links also go when the process exits; the handler matters for perf-based attachments
 * held by children, pinned-later races, and for tools that trap signals and keep running.
 */

/** Anything with close(). */
export interface Closable {
  close(): void;
}

const live = new Set<Closable>();
const extra = new Set<Closable>();

/** Registers an open link (Link's constructor does this). */
export function trackLink(link: Closable): void {
  live.add(link);
}

/** Forgets a closed link (Link.close does this). */
export function untrackLink(link: Closable): void {
  live.delete(link);
}

/** Every link opened by this process and not yet closed, oldest first. */
export function openLinks(): Closable[] {
  return [...live];
}

/** Closes every open link (and registered extras), newest first; returns how many were closed. Errors are swallowed. */
export function closeAllLinks(): number {
  const all = [...live, ...extra].reverse();
  for (const c of all) {
    try {
      c.close();
    } catch {
      /* closing on the way out must not throw */
    }
  }
  live.clear();
  extra.clear();
  return all.length;
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
let installed = false;

/**
 * Installs SIGINT/SIGTERM/SIGHUP handlers (once) that close all open links and the given extra
 * objects (programs, readers), then re-raise the signal so the exit status stays conventional.
 * Returns a function that uninstalls the handlers.
 */
export function closeOnExit(...objects: Closable[]): () => void {
  for (const o of objects) extra.add(o);
  if (installed) return uninstall;
  installed = true;
  for (const sig of SIGNALS) process.on(sig, onSignal);
  process.on('exit', onExit);
  return uninstall;
}

function onSignal(sig: NodeJS.Signals): void {
  closeAllLinks();
  uninstall();
  // Re-raise with the default disposition: the parent sees "killed by SIGTERM", as without us.
  process.kill(process.pid, sig);
}

function onExit(): void {
  closeAllLinks();
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  for (const sig of SIGNALS) process.off(sig, onSignal);
  process.off('exit', onExit);
}
