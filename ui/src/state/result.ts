// The result panel: which scan it shows, how the server's later answer changes it, and
// the late rejections of scans no longer on the panel (they must not pass unnoticed).

import type { CheckInRequest, CheckOutRequest, Member, ScanResult, UiError } from "../bindings";
import { withChangedMember } from "./members";

/** What became of a shown scan once the server answered it after the panel showed it. */
export type Late = "confirmed" | "rejected" | null;

export interface Shown {
  /** The scan this came from (increasing with every scan started). */
  token: number;
  result: ScanResult;
  late: Late;
}

export interface ScanError {
  token: number;
  error: UiError;
}

export interface ResultState {
  shown: Shown | null;
  /** Scans started and not yet answered by their command, with what they are about. */
  inFlight: { token: number; label: string }[];
  /** The server's answers seen lately, by op id (a command may return after its answer). */
  settled: [string, ScanResult][];
  /** Status each op id had when its command returned (what the receptionist saw). */
  seen: [string, ScanResult["status"]][];
  /** Server rejections that came while a scan was in flight: claimed by it, or alerts. */
  held: ScanResult[];
  /** Late rejections of scans no longer on the panel, newest first. */
  alerts: ScanResult[];
  error: ScanError | null;
}

export const initialResult: ResultState = {
  shown: null,
  inFlight: [],
  settled: [],
  seen: [],
  held: [],
  alerts: [],
  error: null,
};

export type ResultAction =
  | { type: "started"; token: number; label: string }
  | { type: "succeeded"; token: number; result: ScanResult }
  | { type: "failed"; token: number; error: UiError }
  | { type: "settled"; result: ScanResult }
  | { type: "dismiss_alert"; opId: string }
  | { type: "dismiss_error" }
  /** A member changed (renewed here, or a `member_updated` event): the panel shows them as now. */
  | { type: "member_changed"; member: Member }
  | { type: "reset" };

const SETTLED_LIMIT = 100;
const SEEN_LIMIT = 300;
const ALERTS_LIMIT = 20;

function remember<T>(list: [string, T][], key: string, value: T, limit: number): [string, T][] {
  return [[key, value] as [string, T], ...list.filter(([k]) => k !== key)].slice(0, limit);
}

function lookup<T>(list: [string, T][], key: string | null): T | undefined {
  if (key == null) return undefined;
  return list.find(([k]) => k === key)?.[1];
}

function addAlert(alerts: ScanResult[], result: ScanResult): ScanResult[] {
  return [result, ...alerts.filter((a) => a.op_id !== result.op_id)].slice(0, ALERTS_LIMIT);
}

/** Once nothing is in flight, held rejections nobody claimed become alerts. */
function releaseHeld(state: ResultState): ResultState {
  if (state.inFlight.length > 0 || state.held.length === 0) return state;
  let alerts = state.alerts;
  for (const r of state.held) {
    if (r.op_id && r.op_id === state.shown?.result.op_id) continue;
    if (lookup(state.seen, r.op_id) === "rejected") continue;
    alerts = addAlert(alerts, r);
  }
  return { ...state, held: [], alerts };
}

export function resultReducer(state: ResultState, action: ResultAction): ResultState {
  switch (action.type) {
    case "reset":
      return initialResult;
    case "started":
      return { ...state, inFlight: [...state.inFlight, { token: action.token, label: action.label }] };
    case "failed": {
      const inFlight = state.inFlight.filter((f) => f.token !== action.token);
      const newest = !state.error || action.token >= state.error.token;
      return releaseHeld({ ...state, inFlight, error: newest ? { token: action.token, error: action.error } : state.error });
    }
    case "succeeded": {
      const inFlight = state.inFlight.filter((f) => f.token !== action.token);
      let result = action.result;
      const op = result.op_id;
      // The server may have answered before the command returned: show its final word.
      const answer = lookup(state.settled, op);
      if (answer) result = { ...answer, elapsed_ms: result.elapsed_ms };
      const seen = op ? remember(state.seen, op, result.status, SEEN_LIMIT) : state.seen;
      const held = op ? state.held.filter((h) => h.op_id !== op) : state.held;
      const newer = !state.shown || action.token > state.shown.token;
      const shown = newer ? { token: action.token, result, late: null } : state.shown;
      const error = state.error && action.token >= state.error.token ? null : state.error;
      return releaseHeld({ ...state, inFlight, seen, held, shown, error });
    }
    case "settled": {
      const answer = action.result;
      const op = answer.op_id;
      if (!op) return state;
      const settled = remember(state.settled, op, answer, SETTLED_LIMIT);
      const shown = state.shown;
      if (shown && shown.result.op_id === op) {
        const before = shown.result.status;
        const late: Late =
          before === "queued" && answer.status === "rejected"
            ? "rejected"
            : before === "queued" && answer.status === "accepted"
              ? "confirmed"
              : shown.late;
        const result = { ...answer, elapsed_ms: shown.result.elapsed_ms };
        return { ...state, settled, shown: { ...shown, result, late } };
      }
      if (answer.status !== "rejected") return { ...state, settled };
      const seenAs = lookup(state.seen, op);
      if (seenAs === "rejected") return { ...state, settled };
      if (seenAs === undefined && state.inFlight.length > 0) {
        return { ...state, settled, held: [...state.held.filter((h) => h.op_id !== op), answer] };
      }
      return { ...state, settled, alerts: addAlert(state.alerts, answer) };
    }
    case "dismiss_alert":
      return { ...state, alerts: state.alerts.filter((a) => a.op_id !== action.opId) };
    case "dismiss_error":
      return { ...state, error: null };
    case "member_changed": {
      const shown = state.shown;
      if (!shown) return state;
      const result = withChangedMember(shown.result, action.member);
      return result === shown.result ? state : { ...state, shown: { ...shown, result } };
    }
  }
}

export type Cue = "yes" | "no" | null;

/** The sound a change of the result state calls for: a new verdict, a late "no", a failure. */
export function soundCue(prev: ResultState, next: ResultState): Cue {
  if (next.alerts.length > 0 && next.alerts[0] !== prev.alerts[0] && !prev.alerts.includes(next.alerts[0]!)) {
    return "no";
  }
  if (next.error && next.error !== prev.error) return "no";
  const a = prev.shown;
  const b = next.shown;
  if (!b) return null;
  if (!a || a.token !== b.token) {
    return b.result.status === "accepted" || b.result.status === "queued" ? "yes" : "no";
  }
  if (b.late === "rejected" && a.late !== "rejected") return "no";
  return null;
}

/** The name on the panel: the member, else the server's name for them, else the card. */
export function resultTitle(result: ScanResult): string {
  return result.member?.name ?? result.member_name ?? (result.card ? `Card ${result.card}` : "Unknown member");
}

/** The verdict: the panel's largest line, a symbol as well as a colour. */
export interface Verdict {
  /** ✓ let in / checked out, ✕ not allowed, ? not recognised. */
  symbol: "✓" | "✕" | "?";
  words: string;
}

export function verdict(result: ScanResult, late: Late): Verdict {
  const out = result.action === "check_out";
  if (late === "rejected") return { symbol: "✕", words: "Turned away by the server" };
  switch (result.status) {
    case "accepted":
      return { symbol: "✓", words: out ? "Checked out" : "Let in" };
    case "queued":
      return { symbol: "✓", words: out ? "Checked out, saved offline" : "Let in, saved offline" };
    case "rejected":
      return { symbol: "✕", words: out ? "Not checked out" : "Not allowed in" };
    case "unknown":
      return { symbol: "?", words: "Card not recognised" };
  }
}

/** The panel in one sentence, announced once to screen readers. */
export function announcement(result: ScanResult, late: Late): string {
  const v = verdict(result, late);
  const parts = [`${v.words}: ${resultTitle(result)}.`, result.message];
  if (result.repeated) parts.push("Same card read again.");
  return parts.filter(Boolean).join(" ");
}

/** "Let in anyway": the same person again, with the reason staff gave. */
export function overrideRequest(result: ScanResult, reason: string): CheckInRequest | null {
  const why = reason.trim();
  if (!why) return null;
  if (result.card) return { card: result.card, member_id: null, override_reason: why };
  if (result.member?.id) return { card: null, member_id: result.member.id, override_reason: why };
  return null;
}

/** Checking out the person on the panel. */
export function checkOutRequest(result: ScanResult): CheckOutRequest | null {
  if (result.card) return { card: result.card, member_id: null, visit_id: null };
  const member = result.member?.id ?? result.visit?.member?.id;
  if (member) return { card: null, member_id: member, visit_id: null };
  if (result.visit?.id) return { card: null, member_id: null, visit_id: result.visit.id };
  return null;
}

/** Whether the panel offers "Let in anyway" (a check-in turned away that staff may override). */
export function canOverride(result: ScanResult): boolean {
  return (
    result.overridable &&
    result.action === "check_in" &&
    (result.status === "rejected" || result.status === "unknown") &&
    overrideRequest(result, "x") !== null
  );
}

/** Whether the panel offers "Check out" (someone who is, or may be, inside). */
export function canCheckOut(result: ScanResult): boolean {
  return result.action === "check_in" && (result.status === "accepted" || result.status === "queued") &&
    checkOutRequest(result) !== null;
}
