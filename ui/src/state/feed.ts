// The activity feed: server events, each once (by seq), newest first, and their words.

import type { Event, Visit } from "../bindings";
import { clock, stay } from "./time";

export const FEED_LIMIT = 50;

/**
 * Merges `incoming` into `current`: one entry per seq (a later copy replaces an earlier
 * one), newest first, at most `limit` entries. Neither input is modified.
 */
export function mergeFeed(current: readonly Event[], incoming: readonly Event[], limit = FEED_LIMIT): Event[] {
  if (incoming.length === 0 && current.length <= limit) return current as Event[];
  const bySeq = new Map<number, Event>();
  for (const e of current) bySeq.set(e.seq, e);
  for (const e of incoming) bySeq.set(e.seq, e);
  return [...bySeq.values()].sort((a, b) => b.seq - a.seq).slice(0, Math.max(0, limit));
}

/** The highest seq in the feed (0 when empty). */
export function lastSeqOf(feed: readonly Event[]): number {
  return feed.reduce((max, e) => (e.seq > max ? e.seq : max), 0);
}

export type Tone = "in" | "out" | "review" | "other";

export interface FeedLine {
  seq: number;
  time: string;
  /** "Ada Lovelace checked in at front-1". */
  text: string;
  /** Markers shown beside the text: "saved offline", "override", "auto check-out", …. */
  tags: string[];
  tone: Tone;
}

function who(visit: Visit | null | undefined): string {
  if (visit?.member?.name) return visit.member.name;
  if (visit?.card) return `Card ${visit.card}`;
  return "Unknown member";
}

/** The feed's words for one event. Unknown kinds (a newer server) are shown, not dropped. */
export function describeEvent(event: Event, timeZone?: string): FeedLine {
  const visit = event.check_in ?? null;
  const time = clock(event.at, timeZone);
  const tags: string[] = [];
  const override = event.override === true || Boolean(visit?.override);
  switch (event.kind) {
    case "member_checked_in": {
      if (visit?.queued) tags.push("saved offline");
      if (override) tags.push("override");
      if (visit?.needs_review) tags.push("needs review");
      const at = visit?.desk_id ? ` at ${visit.desk_id}` : "";
      return { seq: event.seq, time, text: `${who(visit)} checked in${at}`, tags, tone: "in" };
    }
    case "member_checked_out": {
      const auto = event.auto === true || visit?.auto === true;
      if (auto) tags.push("auto check-out");
      if (visit?.queued) tags.push("saved offline");
      if (override) tags.push("override");
      const minutes = stay(visit?.stay_minutes);
      const after = minutes ? ` after ${minutes}` : "";
      const text = auto
        ? `${who(visit)} checked out automatically (maximum stay)${after}`
        : `${who(visit)} checked out${visit?.desk_id ? ` at ${visit.desk_id}` : ""}${after}`;
      return { seq: event.seq, time, text, tags, tone: "out" };
    }
    case "visit_reviewed": {
      tags.push("reviewed");
      const review = visit?.review;
      const decision = review ? (review.decision === "keep" ? "kept" : "voided") : "reviewed";
      const by = review?.by ? ` by ${review.by}` : "";
      return { seq: event.seq, time, text: `${who(visit)}: visit ${decision}${by}`, tags, tone: "review" };
    }
    case "member_updated": {
      const text = event.member
        ? `${event.member.name}: member details changed (membership ${event.member.status})`
        : "Member list updated (import)";
      return { seq: event.seq, time, text, tags, tone: "other" };
    }
    default: {
      const words = String(event.kind).replace(/_/g, " ");
      const subject = visit ? ` (${who(visit)})` : "";
      return { seq: event.seq, time, text: `${words}${subject}`, tags, tone: "other" };
    }
  }
}

/** The whole line as one string: "14:02 Ada Lovelace checked in at front-1 (saved offline)". */
export function feedLineText(line: FeedLine): string {
  const tags = line.tags.length ? ` (${line.tags.join(", ")})` : "";
  return `${line.time} ${line.text}${tags}`.trim();
}
