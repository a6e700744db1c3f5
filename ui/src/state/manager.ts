// The manager view: desks (presence), visits awaiting review, today's history.

import type { DeskPresence, Role, UserInfo, Visit } from "../bindings";
import { ago, since, stay } from "./time";

export function canManage(user: UserInfo | null | undefined): boolean {
  const role: Role | undefined = user?.role;
  return role === "manager" || role === "admin";
}

export function roleWords(role: Role): string {
  switch (role) {
    case "front_desk":
      return "Front desk";
    case "manager":
      return "Manager";
    case "admin":
      return "Admin";
  }
}

/** The attributes the end-to-end tests read on a desk row. */
export function deskRowAttrs(desk: DeskPresence): { "data-desk-id": string; "data-online": string; "data-queued": string } {
  return {
    "data-desk-id": desk.desk_id,
    "data-online": desk.online ? "true" : "false",
    "data-queued": desk.queued == null ? "" : String(desk.queued),
  };
}

export interface DeskLine {
  id: string;
  online: boolean;
  status: string;
  transport: string;
  queued: string;
  user: string;
  lastSeen: string;
}

export function deskLine(desk: DeskPresence, now: number): DeskLine {
  const seen = since(desk.last_seen_at, now);
  return {
    id: desk.desk_id,
    online: desk.online,
    status: desk.online ? "Online" : "Offline",
    transport: !desk.online ? "—" : desk.transport === "websocket" ? "live link" : desk.transport === "http" ? "backup link (HTTP)" : (desk.transport ?? "—"),
    queued: desk.queued == null ? "not reported" : desk.queued === 0 ? "nothing waiting" : `${desk.queued} waiting`,
    user: desk.user_name ?? "—",
    lastSeen: seen == null ? "only from today's visits" : ago(seen),
  };
}

/** Desks in a stable order: online first, then by id. */
export function sortDesks(desks: readonly DeskPresence[]): DeskPresence[] {
  return [...desks].sort((a, b) => Number(b.online) - Number(a.online) || a.desk_id.localeCompare(b.desk_id));
}

/** Visits that still wait for a manager's decision. */
export function awaitingReview(visits: readonly Visit[]): Visit[] {
  return visits.filter((v) => v.needs_review === true && !v.review && !v.voided);
}

/** The markers of a visit in the history: saved offline, override, auto, voided, needs review, kept. */
export function visitFlags(v: Visit): string[] {
  const flags: string[] = [];
  if (v.queued) flags.push("saved offline");
  if (v.override) flags.push("override");
  if (v.auto) flags.push("auto check-out");
  if (v.voided) flags.push("voided");
  if (v.needs_review && !v.review && !v.voided) flags.push("needs review");
  if (v.review?.decision === "keep") flags.push("kept");
  return flags;
}

export function visitWho(v: Visit): string {
  return v.member?.name ?? (v.card ? `Card ${v.card}` : "Unknown member");
}

/** A visit's stay: the recorded minutes, else "inside" for an open visit. */
export function visitStay(v: Visit, now: number): string {
  if (v.stay_minutes != null) return stay(v.stay_minutes);
  if (!v.checked_out_at && !v.voided) {
    const inside = since(v.checked_in_at, now);
    return inside == null ? "inside" : `inside, ${stay(inside / 60_000)}`;
  }
  return "";
}

/** Why a visit needs review, in words. */
export function reviewReason(v: Visit): string {
  const parts: string[] = [];
  if (!v.member) parts.push("card not known to the server");
  if (v.override) parts.push(`let in by override (${v.override.rule.replace(/_/g, " ")}): "${v.override.reason}" by ${v.override.by}`);
  if (v.queued) parts.push("recorded while the desk was offline");
  return parts.length ? parts.join("; ") : "flagged by the server";
}
