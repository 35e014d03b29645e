// What a command says while it works. Every step, wait and retry is a plain line (a log reads the same as a
// terminal); on a terminal, a spinner line under them also says what is pending right now and for how long
// (yocto-spinner, on stderr, redrawn around the lines). Without a terminal, a pending thing that lasts says
// so again every 30 seconds, so nothing waits in silence. --quiet says nothing at all.
import yoctoSpinner, { type Spinner } from "yocto-spinner";

/** Where progress goes: timeline lines, and what is pending now (until a time, or open-ended). */
export interface Progress {
  (line: string): void;
  /** Something pending: a wait until `untilMs`, or (without it) a call or step still running. */
  status?(text: string | undefined, untilMs?: number): void;
}

/** How progress is shown. */
export interface ProgressOptions {
  /** Where lines go. */
  write(text: string): void;
  /** A terminal: show a spinner (on stderr). */
  interactive: boolean;
  quiet: boolean;
  /** The clock (tests). */
  now?: () => number;
  /** How often a pending thing is said again without a terminal, in ms. */
  heartbeatMs?: number;
}

const seconds = (ms: number) => `${Math.max(0, Math.round(ms / 1000))} s`;

/** A Progress for a command, and `stop()` to clear the spinner at the end. */
export function createProgress(options: ProgressOptions): Progress & { stop(): void } {
  const now = options.now ?? Date.now;
  let spinner: Spinner | undefined;
  let ticker: NodeJS.Timeout | undefined;
  let pending: { text: string; since: number; until?: number } | undefined;
  const describe = () => {
    if (!pending) return "";
    return pending.until !== undefined
      ? `${pending.text}: ${seconds(pending.until - now())} left`
      : `${pending.text} (${seconds(now() - pending.since)})`;
  };
  const clear = () => {
    if (ticker) clearInterval(ticker);
    ticker = undefined;
    spinner?.stop();
    spinner = undefined;
  };
  const progress = ((line: string) => {
    if (!options.quiet) options.write(`${line}\n`);
  }) as Progress & { stop(): void };
  progress.status = (text, untilMs) => {
    if (options.quiet) return;
    if (text === undefined) {
      pending = undefined;
      clear();
      return;
    }
    if (pending?.text === text && pending.until === untilMs) return;
    pending = { text, since: now(), until: untilMs };
    if (options.interactive) {
      spinner ??= yoctoSpinner({ stream: process.stderr }).start();
      spinner.text = describe();
      if (!ticker) {
        ticker = setInterval(() => {
          if (spinner) spinner.text = describe();
        }, 1000);
        ticker.unref();
      }
      return;
    }
    // No terminal: an open-ended wait is said again while it lasts (a timed one was said with its length).
    if (ticker) clearInterval(ticker);
    ticker = undefined;
    if (untilMs === undefined) {
      ticker = setInterval(() => {
        if (pending) options.write(`          still ${describe()}\n`);
      }, options.heartbeatMs ?? 30_000);
      ticker.unref();
    }
  };
  progress.stop = () => {
    pending = undefined;
    clear();
  };
  return progress;
}
