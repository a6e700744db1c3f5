import { describe, expect, it } from "vitest";
import type { ConnectionState } from "../bindings";
import { bannerWords, countdown, retryLine, rttWords } from "./banner";
import { status } from "./test-fixtures";

const STATES: ConnectionState[] = ["live", "reconnecting", "http_fallback", "offline", "signed_out", "update_required", "connecting"];

describe("bannerWords", () => {
  it("uses the agent's state names; calm only when live, red only when a person must act", () => {
    for (const state of STATES) {
      const w = bannerWords(status({ state, next_retry_ms: state === "live" ? null : 2000 }));
      expect(w.state).toBe(state);
      expect(w.title.length).toBeGreaterThan(0);
      expect(w.tone === "calm").toBe(state === "live");
      expect(w.tone === "bad").toBe(state === "signed_out" || state === "update_required");
    }
  });

  it("is amber offline while the desk retries, red once it waits for someone to press retry", () => {
    expect(bannerWords(status({ state: "offline", next_retry_ms: 4000 })).tone).toBe("warn");
    expect(bannerWords(status({ state: "offline", next_retry_ms: null })).tone).toBe("bad");
  });

  it("offers retry now only when not live", () => {
    for (const state of STATES) expect(bannerWords(status({ state })).canRetry).toBe(state !== "live");
  });

  it("says scans are safe when not connected, and says each thing once", () => {
    const offline = bannerWords(status({ state: "offline", detail: "The server is not answering.", next_retry_ms: 3000 }));
    expect(offline.meaning).toMatch(/safe/);
    expect(offline.cause).toBe("The server is not answering.");
    expect(bannerWords(status({ state: "reconnecting" })).meaning).toMatch(/safe/);
    expect(bannerWords(null).state).toBe("connecting");
    // Signed out: the desk's own sentence says what to do; no second version of it.
    const out = bannerWords(status({ state: "signed_out", detail: "Sign in again; scans waiting at this desk are kept." }));
    expect(out.cause).toMatch(/Sign in again/);
    expect(out.meaning).toBeNull();
    // Without a sentence from the desk, the banner still says what to do.
    expect(bannerWords(status({ state: "update_required", detail: "" })).meaning).toMatch(/update/i);
  });

  it("never carries a countdown in its words (the one countdown is retryLine)", () => {
    for (const state of STATES) {
      const w = bannerWords(status({ state, detail: "The server is restarting (1012)." }));
      expect(`${w.title} ${w.cause ?? ""} ${w.meaning ?? ""}`).not.toMatch(/\d+ s\b/);
    }
  });

  it("uses no implementation words", () => {
    for (const state of STATES) {
      const w = bannerWords(status({ state, detail: "" }));
      expect(`${w.title} ${w.meaning ?? ""}`).not.toMatch(/queue|outbox|\bseq\b|op id/i);
    }
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
