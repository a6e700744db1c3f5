// "Saved on this desk, not sent yet": what each waiting scan is, in staff words.

import type { OutboxEntry } from "../bindings";
import { clock } from "./time";

export type EntryTone = "waiting" | "accepted" | "rejected";

export interface EntryLine {
  opId: string;
  time: string;
  who: string;
  /** "check-in", "check-out", with how the desk judged it offline. */
  what: string;
  /** "waiting", "accepted", "turned away". */
  state: string;
  /** The server's answer in words, once it came. */
  answer: string | null;
  tone: EntryTone;
}

/** How the desk let the scan through, in words ("" when the server decided at once). */
function how(entry: OutboxEntry): string {
  if (entry.override_reason) return `let in by override (${entry.override_reason})`;
  if (!entry.offline) return "";
  if (entry.action === "check_out") return "saved offline";
  return entry.provisional === "unknown_member" ? "unverified card, saved offline" : "let in offline";
}

export function entryLine(entry: OutboxEntry, timeZone?: string): EntryLine {
  const who = entry.member_name ?? (entry.card ? `Card ${entry.card}` : "Member");
  const action = entry.action === "check_out" ? "check-out" : "check-in";
  const manner = how(entry);
  const what = manner ? `${action}, ${manner}` : action;
  const [state, tone]: [string, EntryTone] =
    entry.state === "pending"
      ? ["waiting", "waiting"]
      : entry.state === "acked"
        ? ["accepted", "accepted"]
        : ["turned away", "rejected"];
  return { opId: entry.op_id, time: clock(entry.created_at, timeZone), who, what, state, answer: entry.answer, tone };
}

/** What the desk still has to send, oldest first (the order it sends them). */
export function unsent(entries: readonly OutboxEntry[]): OutboxEntry[] {
  return entries.filter((e) => e.state === "pending");
}
