/**
 * How a long-running lab ends: after `--duration`, on SIGINT/SIGTERM (Ctrl-C), or when asked. The
 * first signal only ends the run (so the caller can detach and print its summary); a second one
 * closes every open link and kills the process (kernel/cleanup's closeOnExit).
 */
import { closeOnExit } from 'tsbpf';

/** Why a run ended. */
export type StopReason = 'duration' | 'SIGINT' | 'SIGTERM' | 'stopped';

/** A pending stop: await `done`; call `stop()` to end early. */
export interface StopHandle {
  readonly done: Promise<StopReason>;
  stop(reason?: StopReason): void;
  /** True once stopped. */
  readonly stopped: boolean;
}

/** Starts waiting for the end of a run. `durationS` undefined or 0 means until a signal. */
export function untilStopped(durationS?: number): StopHandle {
  let resolve!: (r: StopReason) => void;
  const done = new Promise<StopReason>((r) => (resolve = r));
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const onSignal = (sig: NodeJS.Signals) => finish(sig as StopReason);
  const finish = (reason: StopReason) => {
    if (stopped) return;
    stopped = true;
    if (timer) clearTimeout(timer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    // A second Ctrl-C while detaching means "now": close every link and die of that signal.
    closeOnExit();
    resolve(reason);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  if (durationS !== undefined && durationS > 0) timer = setTimeout(() => finish('duration'), durationS * 1000);
  return {
    done,
    stop: (r = 'stopped') => finish(r),
    get stopped() {
      return stopped;
    },
  };
}
