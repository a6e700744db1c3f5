// The front-desk screen's state (banner, counts, outbox, stats, feed, errors, details),
// built from one snapshot and the stream of desk updates that follows it.

import type {
  Counts,
  DeskUpdate,
  ErrorRecord,
  Event,
  OutboxEntry,
  ScanResult,
  Snapshot,
  Stats,
  Status,
} from "../bindings";
import { lastSeqOf, mergeFeed } from "./feed";
import { clock } from "./time";

export const ERRORS_LIMIT = 20;

/** How many updates of each kind arrived: a snapshot read while one arrived keeps it. */
export interface Versions {
  status: number;
  counts: number;
  stats: number;
}

/** The desk's settings and figures for the details panel (from the latest snapshot). */
export interface DeskDetails {
  server: string;
  desk_id: string;
  location_id: string;
  last_seq: number;
  rtt_ms: number | null;
  roster_synced_at: string | null;
  roster_size: number;
}

export interface DeskState {
  status: Status | null;
  /** When (ms since the epoch) the next connection attempt is due, from `next_retry_ms`. */
  retryAt: number | null;
  counts: Counts | null;
  outbox: OutboxEntry[];
  stats: Stats | null;
  /** When the server last gave `stats` (ISO time), for "as of" when not live. */
  statsAt: string | null;
  feed: Event[];
  errors: ErrorRecord[];
  details: DeskDetails | null;
  /** A snapshot has been loaded since the last reset. */
  loaded: boolean;
  versions: Versions;
}

export const initialDesk: DeskState = {
  status: null,
  retryAt: null,
  counts: null,
  outbox: [],
  stats: null,
  statsAt: null,
  feed: [],
  errors: [],
  details: null,
  loaded: false,
  versions: { status: 0, counts: 0, stats: 0 },
};

export type DeskAction =
  | { type: "update"; update: DeskUpdate; now: number }
  /** `versions`: the state's versions when the snapshot was asked for. */
  | { type: "snapshot"; snapshot: Snapshot; versions: Versions; now: number }
  | { type: "reset" };

function retryAt(status: Status, now: number): number | null {
  return status.next_retry_ms == null ? null : now + status.next_retry_ms;
}

/** Newest first, one per (time, code, message), at most ERRORS_LIMIT. */
export function mergeErrors(current: readonly ErrorRecord[], incoming: readonly ErrorRecord[]): ErrorRecord[] {
  const seen = new Set<string>();
  const all = [...incoming, ...current]
    .filter((e) => {
      const key = `${e.at}\u0000${e.code}\u0000${e.message}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .sort((a, b) => (Date.parse(b.at) || 0) - (Date.parse(a.at) || 0));
  return all.slice(0, ERRORS_LIMIT);
}

/** The outbox list as it stands once the server answered `result` (until the next snapshot). */
export function settleOutbox(outbox: readonly OutboxEntry[], result: ScanResult): OutboxEntry[] {
  if (!result.op_id) return outbox as OutboxEntry[];
  const state = result.status === "rejected" ? "rejected" : result.status === "accepted" ? "acked" : null;
  if (!state) return outbox as OutboxEntry[];
  return outbox.map((e) => (e.op_id === result.op_id ? { ...e, state, answer: result.message } : e));
}

export function deskReducer(state: DeskState, action: DeskAction): DeskState {
  switch (action.type) {
    case "reset":
      // The update counters go on: a snapshot asked for just before the reset compares
      // against them.
      return { ...initialDesk, versions: state.versions };
    case "snapshot": {
      const s = action.snapshot;
      const v = action.versions;
      const statusMoved = state.versions.status !== v.status && state.status !== null;
      const countsMoved = state.versions.counts !== v.counts && state.counts !== null;
      const statsMoved = state.versions.stats !== v.stats && state.stats !== null;
      const feed = mergeFeed(state.feed, s.feed);
      return {
        ...state,
        status: statusMoved ? state.status : s.status,
        retryAt: statusMoved ? state.retryAt : retryAt(s.status, action.now),
        counts: countsMoved ? state.counts : s.counts,
        stats: statsMoved ? state.stats : (s.stats ?? state.stats),
        statsAt: statsMoved ? state.statsAt : (s.stats_at ?? state.statsAt),
        outbox: s.outbox,
        feed,
        errors: mergeErrors(state.errors, s.recent_errors),
        details: {
          server: s.server,
          desk_id: s.desk_id,
          location_id: s.location_id,
          last_seq: Math.max(s.last_seq, lastSeqOf(feed)),
          rtt_ms: s.rtt_ms,
          roster_synced_at: s.roster_synced_at,
          roster_size: s.roster_size,
        },
        loaded: true,
      };
    }
    case "update": {
      const u = action.update;
      const versions = state.versions;
      switch (u.kind) {
        case "status":
          return {
            ...state,
            status: u.status,
            retryAt: retryAt(u.status, action.now),
            versions: { ...versions, status: versions.status + 1 },
          };
        case "outbox":
          return { ...state, counts: u.counts, versions: { ...versions, counts: versions.counts + 1 } };
        case "settled":
          return { ...state, outbox: settleOutbox(state.outbox, u.result) };
        case "server_event": {
          const feed = mergeFeed(state.feed, [u.event]);
          const stats = u.event.stats ?? null;
          const details = state.details
            ? { ...state.details, last_seq: Math.max(state.details.last_seq, u.event.seq) }
            : null;
          return {
            ...state,
            feed,
            details,
            stats: stats ?? state.stats,
            statsAt: stats ? new Date(action.now).toISOString() : state.statsAt,
            versions: stats ? { ...versions, stats: versions.stats + 1 } : versions,
          };
        }
        case "stats":
          return { ...state, stats: u.stats, statsAt: new Date(action.now).toISOString(), versions: { ...versions, stats: versions.stats + 1 } };
        case "error":
          return { ...state, errors: mergeErrors(state.errors, [u.error]) };
        case "resync":
        case "session":
          return state;
        default:
          return state;
      }
    }
  }
}

/** Updates after which the outbox list (and the figures of the details panel) is re-read. */
export function wantsSnapshot(update: DeskUpdate): boolean {
  return update.kind === "outbox" || update.kind === "settled" || update.kind === "resync" || update.kind === "status";
}

/**
 * "As of 14:02": when the desk is not live the figures stop moving, and say so rather
 * than freezing silently. Null when live, or before any figures came.
 */
export function statsAsOf(state: Pick<DeskState, "status" | "stats" | "statsAt">, timeZone?: string): string | null {
  const live = state.status?.state === "live" || state.status?.state === "http_fallback";
  if (live || !state.stats || !state.statsAt) return null;
  const at = clock(state.statsAt, timeZone);
  return at ? `As of ${at}: these figures update when the server is back.` : null;
}
