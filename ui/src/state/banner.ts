// The connection banner's words and the countdown to the next connection attempt.
//
// Each thing is said once: the state in a word or two, what happened (the desk library's
// sentence), what it means for scans, and one countdown. Calm amber while the desk works
// on its own; red only when a person must do something (sign in, update, press retry).

import type { ConnectionState, Status } from "../bindings";

export type BannerTone = "calm" | "warn" | "bad";

export interface BannerWords {
  state: ConnectionState;
  /** The state in a word or two: "Live", "Offline", …. */
  title: string;
  /** What happened, when it adds to the title (the desk's own sentence), else null. */
  cause: string | null;
  /** What it means for the person at the desk: scans are safe, or what to do. */
  meaning: string | null;
  tone: BannerTone;
  /** Offer "retry now": only when not live. */
  canRetry: boolean;
}

interface StateWords {
  title: string;
  meaning: string | null;
  tone: BannerTone;
  /** The desk's detail sentence is worth showing (it names the cause or the action). */
  showCause: boolean;
}

const SAFE = "Scans are safe: each is saved on this desk and sent when the server answers.";

const WORDS: Record<ConnectionState, StateWords> = {
  live: { title: "Live", meaning: "Connected. Scans are confirmed at once.", tone: "calm", showCause: false },
  connecting: { title: "Connecting…", meaning: SAFE, tone: "warn", showCause: false },
  reconnecting: { title: "Reconnecting", meaning: SAFE, tone: "warn", showCause: true },
  http_fallback: {
    title: "Connected (backup link)",
    meaning: "The live link is blocked on this network; scans are confirmed over a slower backup link.",
    tone: "warn",
    showCause: false,
  },
  offline: {
    title: "Offline",
    meaning: "Scans are safe: the desk decides from its member list and sends each when the server is back.",
    tone: "warn",
    showCause: true,
  },
  // The desk's sentence says what to do and that saved scans are kept: said once, there.
  signed_out: { title: "Signed out", meaning: null, tone: "bad", showCause: true },
  update_required: { title: "Update required", meaning: null, tone: "bad", showCause: true },
};

const FALLBACK_MEANING: Record<ConnectionState, string> = {
  live: "",
  connecting: "",
  reconnecting: "",
  http_fallback: "",
  offline: "",
  signed_out: "Sign in again. Scans saved on this desk are kept and sent after sign-in.",
  update_required: "This app is too old for the server. Ask IT to update it; scans saved here are kept.",
};

/** The banner for a status; `null` (not known yet) reads as connecting. */
export function bannerWords(status: Status | null): BannerWords {
  const state: ConnectionState = status?.state ?? "connecting";
  const words = WORDS[state] ?? { title: String(state).replace(/_/g, " "), meaning: SAFE, tone: "warn", showCause: true };
  const detail = status?.detail?.trim() || null;
  const cause = words.showCause ? detail : null;
  const meaning = words.meaning ?? (cause ? null : FALLBACK_MEANING[state] || null);
  // Offline with no try scheduled: the desk has stopped trying and waits for a person.
  const stopped = state === "offline" && status != null && status.next_retry_ms == null;
  return {
    state,
    title: words.title,
    cause,
    meaning,
    tone: stopped ? "bad" : words.tone,
    canRetry: state !== "live",
  };
}

/** "12 s", "1 min 05 s". */
export function countdown(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  if (total < 60) return `${total} s`;
  const m = Math.floor(total / 60);
  const s = total % 60;
  return `${m} min ${String(s).padStart(2, "0")} s`;
}

/**
 * The one countdown: "Next try in 12 s", "Trying now…" once the time has come, or null
 * when no try is scheduled (live, or the desk waits for "retry now").
 */
export function retryLine(status: Status | null, retryAt: number | null, now: number): string | null {
  if (!status || retryAt == null || status.state === "live") return null;
  const left = retryAt - now;
  const attempt = status.attempt > 0 ? ` (attempt ${status.attempt + 1})` : "";
  if (left <= 0) return `Trying now…${attempt}`;
  return `Next try in ${countdown(left)}${attempt}`;
}

/** Round-trip time in words for the details panel. */
export function rttWords(rtt: number | null | undefined): string {
  if (rtt == null) return "not measured yet";
  return `${rtt} ms`;
}
