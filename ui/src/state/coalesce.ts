// Runs an async job at most once at a time; calls made while it runs are folded into
// one more run after it (so the last call is always followed by a fresh run).

export interface Coalesced {
  (): void;
  /** Resolves once no run is under way or due. */
  idle(): Promise<void>;
}

export function coalesce(job: () => Promise<unknown>): Coalesced {
  let running = false;
  let again = false;
  let waiters: (() => void)[] = [];
  const finish = () => {
    const w = waiters;
    waiters = [];
    w.forEach((f) => f());
  };
  const run = async (): Promise<void> => {
    running = true;
    do {
      again = false;
      try {
        await job();
      } catch {
        // The job reports its own failures; one failure must not stop later runs.
      }
    } while (again);
    running = false;
    finish();
  };
  const call = (() => {
    if (running) {
      again = true;
      return;
    }
    void run();
  }) as Coalesced;
  call.idle = () => (running ? new Promise<void>((resolve) => waiters.push(resolve)) : Promise.resolve());
  return call;
}
