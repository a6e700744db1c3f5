// Builders of binding types for the tests (values, not type definitions).

import type { Event, Member, OutboxEntry, ScanResult, Snapshot, Status, Visit } from "../bindings";

export function member(over: Partial<Member> = {}): Member {
  return {
    id: "m1",
    name: "Ada Lovelace",
    card: "D0001",
    phone: "555-0101",
    status: "active",
    valid_until: null,
    created_at: "2026-01-01T00:00:00Z",
    ...over,
  };
}

export function visit(over: Partial<Visit> = {}): Visit {
  return {
    id: "v1",
    location_id: "demo",
    member: { id: "m1", name: "Ada Lovelace", status: "active" },
    card: "D0001",
    desk_id: "front-1",
    checked_in_at: "2026-11-22T14:02:00Z",
    checked_out_at: null,
    stay_minutes: null,
    queued: false,
    ...over,
  };
}

export function event(seq: number, over: Partial<Event> = {}): Event {
  return {
    seq,
    kind: "member_checked_in",
    at: "2026-11-22T14:02:00Z",
    location_id: "demo",
    check_in: visit(),
    ...over,
  };
}

export function scan(over: Partial<ScanResult> = {}): ScanResult {
  return {
    op_id: "op-1",
    action: "check_in",
    status: "accepted",
    card: "D0001",
    member: member(),
    member_name: null,
    code: null,
    message: "Checked in. Welcome!",
    overridable: false,
    provisional: false,
    visit: null,
    elapsed_ms: 12,
    repeated: false,
    ...over,
  };
}

export function status(over: Partial<Status> = {}): Status {
  return { state: "live", detail: "Connected.", attempt: 0, next_retry_ms: null, ...over };
}

export function entry(over: Partial<OutboxEntry> = {}): OutboxEntry {
  return {
    op_id: "op-1",
    action: "check_in",
    card: "D0002",
    member_name: "Grace Hopper",
    created_at: "2026-11-22T09:15:00Z",
    state: "pending",
    provisional: "accepted",
    offline: true,
    override_reason: null,
    answer: null,
    ...over,
  };
}

export function snapshot(over: Partial<Snapshot> = {}): Snapshot {
  return {
    status: status(),
    counts: { pending: 0, acked: 0, rejected: 0 },
    outbox: [],
    stats: { occupancy: 3, today_total: 10, avg_stay_minutes: 42 },
    stats_at: "2026-11-22T08:00:00Z",
    feed: [],
    recent_errors: [],
    server: "http://127.0.0.1:8080",
    desk_id: "front-1",
    location_id: "demo",
    last_seq: 0,
    rtt_ms: 4,
    roster_synced_at: "2026-11-22T08:00:00Z",
    roster_size: 200,
    ...over,
  };
}
