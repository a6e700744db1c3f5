// How old the desk's member list is: offline, every decision is made from it.

import { ago, since } from "./time";

export const STALE_AFTER_MS = 24 * 60 * 60 * 1000;

export interface RosterAge {
  /** "Member list (200 members) updated 5 min ago". */
  text: string;
  /** Older than 24 hours: decisions may be out of date. */
  stale: boolean;
  /** The desk has no member list at all: offline, every card is unverified. */
  missing: boolean;
}

function members(n: number): string {
  return n === 1 ? "1 member" : `${n} members`;
}

export function rosterAge(syncedAt: string | null | undefined, size: number, now: number): RosterAge {
  const elapsed = since(syncedAt, now);
  if (elapsed == null || size <= 0) {
    return {
      text: "This desk has no member list yet: offline, every card is unverified.",
      stale: true,
      missing: true,
    };
  }
  const stale = elapsed > STALE_AFTER_MS;
  const base = `Member list (${members(size)}) updated ${ago(elapsed)}`;
  return {
    text: stale ? `${base}: it may be out of date. Decisions made offline are checked when the server is back.` : `${base}.`,
    stale,
    missing: false,
  };
}
