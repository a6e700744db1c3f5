import { describe, expect, it } from "vitest";
import type { ConnectionState } from "../bindings";
import { bannerWords, countdown, retryLine, rttWords } from "./banner";
import { status } from "./test-fixtures";

describe("bannerWords", () => {
  it("uses the agent's state names and is calm only when live", () => {
    const states: ConnectionState[] = ["live", "reconnecting", "http_fallback", "offline", "signed_out", "update_required", "connecting"];
    for (const state of states) {
      const w = bannerWords(status({ state }));
      expect(w.state).toBe(state);
      expect(w.title.length).toBeGreaterThan(0);
      expect(w.tone === "calm").toBe(state === "live");
    }
  });

  it("says scans are safe when not connected", () => {
    expect(bannerWords(status({ state: "offline" })).meaning).toMatch(/safe/);
    expect(bannerWords(status({ state: "reconnecting" })).meaning).toMatch(/safe/);
    expect(bannerWords(null).state).toBe("connecting");
  });
});

describe("retry countdown", () => {
  it("counts down to the deadline", () => {
    const s = status({ state: "offline", attempt: 3, next_retry_ms: 8000 });
    expect(retryLine(s, 10_000, 2_500)).toBe("Next try in 8 s (attempt 4)");
    expect(retryLine(s, 10_000, 9_100)).toBe("Next try in 1 s (attempt 4)");
    expect(retryLine(s, 10_000, 10_000)).toBe("Trying now… (attempt 4)");
  });

  it("is absent when live or when nothing is scheduled", () => {
    expect(retryLine(status(), 5_000, 0)).toBeNull();
    expect(retryLine(status({ state: "offline" }), null, 0)).toBeNull();
    expect(retryLine(null, 5_000, 0)).toBeNull();
  });

  it("formats minutes and seconds", () => {
    expect(countdown(65_000)).toBe("1 min 05 s");
    expect(countdown(400)).toBe("1 s");
    expect(countdown(-5)).toBe("0 s");
    expect(rttWords(null)).toBe("not measured yet");
    expect(rttWords(12)).toBe("12 ms");
  });
});
