// The connection banner's words, and the countdown to the next connection attempt.

import type { ConnectionState, Status } from "../bindings";

export type BannerTone = "calm" | "warn" | "bad";

export interface BannerWords {
  state: ConnectionState;
  /** The state in a word or two: "Live", "Offline", …. */
  title: string;
  /** What it means for the person at the desk (scans are safe, what to do). */
  meaning: string;
  tone: BannerTone;
}

const WORDS: Record<ConnectionState, Omit<BannerWords, "state">> = {
  live: {
    title: "Live",
    meaning: "Connected to the server. Scans are confirmed at once.",
    tone: "calm",
  },
  connecting: {
    title: "Connecting…",
    meaning: "Scans are safe: they are saved on this desk and sent as soon as the server answers.",
    tone: "warn",
  },
  reconnecting: {
    title: "Reconnecting",
    meaning: "Scans are safe: they are saved on this desk and sent as soon as the link is back.",
    tone: "warn",
  },
  http_fallback: {
    title: "Connected (backup link)",
    meaning: "The live link is blocked, so the desk sends and receives over a slower backup link. Scans are confirmed.",
    tone: "warn",
  },
  offline: {
    title: "Offline",
    meaning:
      "Scans are safe: the desk decides from its member list, saves every check-in and sends them when the server is back.",
    tone: "bad",
  },
  signed_out: {
    title: "Signed out",
    meaning: "Sign in again. Saved scans stay on this desk and are sent after the next sign-in.",
    tone: "bad",
  },
  update_required: {
    title: "Update required",
    meaning: "This app is too old for the server. Ask IT to update it; saved scans stay on this desk.",
    tone: "bad",
  },
};

/** The banner for a status; `null` (not known yet) reads as connecting. */
export function bannerWords(status: Status | null): BannerWords {
  const state: ConnectionState = status?.state ?? "connecting";
  const words = WORDS[state] ?? {
    title: String(state).replace(/_/g, " "),
    meaning: "Scans are saved on this desk.",
    tone: "warn" as const,
  };
  return { state, ...words };
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
 * The retry line: "Next try in 12 s", "Trying now…" once the time has come, or null when
 * no try is scheduled (live, or nothing to retry).
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
