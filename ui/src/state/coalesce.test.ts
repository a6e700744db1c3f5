import { describe, expect, it } from "vitest";
import { coalesce } from "./coalesce";

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe("coalesce", () => {
  it("runs once at a time and once more after calls made meanwhile", async () => {
    const gates: ReturnType<typeof deferred>[] = [];
    let runs = 0;
    const job = coalesce(() => {
      runs++;
      const d = deferred();
      gates.push(d);
      return d.promise;
    });
    job();
    job();
    job();
    await tick();
    expect(runs).toBe(1);
    gates[0]!.resolve();
    await tick();
    expect(runs).toBe(2);
    gates[1]!.resolve();
    await job.idle();
    expect(runs).toBe(2);
  });

  it("a failing run does not stop later ones", async () => {
    let runs = 0;
    const job = coalesce(async () => {
      runs++;
      throw new Error("boom");
    });
    job();
    await job.idle();
    job();
    await job.idle();
    expect(runs).toBe(2);
  });
});
