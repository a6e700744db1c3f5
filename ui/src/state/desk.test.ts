import { describe, expect, it } from "vitest";
import { deskReducer, initialDesk, mergeErrors, statsAsOf, wantsSnapshot, type DeskState } from "./desk";
import { entry, event, scan, snapshot, status } from "./test-fixtures";

const NOW = 1_700_000_000_000;

function loaded(): DeskState {
  return deskReducer(initialDesk, { type: "snapshot", snapshot: snapshot(), versions: initialDesk.versions, now: NOW });
}

describe("deskReducer", () => {
  it("a snapshot fills the screen", () => {
    const s = loaded();
    expect(s.loaded).toBe(true);
    expect(s.status?.state).toBe("live");
    expect(s.stats?.today_total).toBe(10);
    expect(s.details?.desk_id).toBe("front-1");
    expect(s.details?.roster_size).toBe(200);
  });

  it("a status computes the retry deadline from the moment it arrived", () => {
    const s = deskReducer(loaded(), {
      type: "update",
      update: { kind: "status", status: status({ state: "offline", attempt: 2, next_retry_ms: 4000 }) },
      now: NOW + 10,
    });
    expect(s.status?.state).toBe("offline");
    expect(s.retryAt).toBe(NOW + 4010);
    const live = deskReducer(s, { type: "update", update: { kind: "status", status: status() }, now: NOW + 20 });
    expect(live.retryAt).toBeNull();
  });

  it("a snapshot read while a status update arrived does not undo the newer status", () => {
    const before = loaded();
    const asked = before.versions;
    const offline = deskReducer(before, {
      type: "update",
      update: { kind: "status", status: status({ state: "offline" }) },
      now: NOW,
    });
    // The snapshot was read before the desk went offline.
    const after = deskReducer(offline, {
      type: "snapshot",
      snapshot: snapshot({ status: status({ state: "live" }) }),
      versions: asked,
      now: NOW,
    });
    expect(after.status?.state).toBe("offline");
    // Without an update in between, the snapshot's status is taken.
    const again = deskReducer(after, {
      type: "snapshot",
      snapshot: snapshot({ status: status({ state: "reconnecting" }) }),
      versions: after.versions,
      now: NOW,
    });
    expect(again.status?.state).toBe("reconnecting");
  });

  it("outbox counts and stats from updates win over an older snapshot", () => {
    const before = loaded();
    const asked = before.versions;
    let s = deskReducer(before, { type: "update", update: { kind: "outbox", counts: { pending: 3, acked: 0, rejected: 0 } }, now: NOW });
    s = deskReducer(s, { type: "update", update: { kind: "stats", stats: { occupancy: 9, today_total: 12, avg_stay_minutes: 40 } }, now: NOW });
    s = deskReducer(s, { type: "snapshot", snapshot: snapshot(), versions: asked, now: NOW });
    expect(s.counts?.pending).toBe(3);
    expect(s.stats?.today_total).toBe(12);
  });

  it("server events feed the feed once each, carry stats and move the last seq", () => {
    let s = loaded();
    const e = event(7, { stats: { occupancy: 4, today_total: 11, avg_stay_minutes: 41 } });
    s = deskReducer(s, { type: "update", update: { kind: "server_event", event: e }, now: NOW });
    s = deskReducer(s, { type: "update", update: { kind: "server_event", event: e }, now: NOW });
    expect(s.feed.map((x) => x.seq)).toEqual([7]);
    expect(s.stats?.occupancy).toBe(4);
    expect(s.details?.last_seq).toBe(7);
    // The snapshot's feed merges in; nothing is duplicated.
    s = deskReducer(s, { type: "snapshot", snapshot: snapshot({ feed: [event(7), event(6)], last_seq: 7 }), versions: s.versions, now: NOW });
    expect(s.feed.map((x) => x.seq)).toEqual([7, 6]);
  });

  it("a settled answer marks its outbox entry at once", () => {
    let s = deskReducer(initialDesk, {
      type: "snapshot",
      snapshot: snapshot({ outbox: [entry({ op_id: "a" }), entry({ op_id: "b" })] }),
      versions: initialDesk.versions,
      now: NOW,
    });
    s = deskReducer(s, {
      type: "update",
      update: { kind: "settled", result: scan({ op_id: "b", status: "rejected", message: "Membership expired" }) },
      now: NOW,
    });
    expect(s.outbox.find((e) => e.op_id === "b")).toMatchObject({ state: "rejected", answer: "Membership expired" });
    expect(s.outbox.find((e) => e.op_id === "a")?.state).toBe("pending");
  });

  it("errors are listed newest first, once each", () => {
    const a = { at: "2026-11-22T10:00:00Z", code: "server_unreachable", message: "No answer." };
    const b = { at: "2026-11-22T11:00:00Z", code: "token", message: "Expired." };
    let s = deskReducer(initialDesk, { type: "update", update: { kind: "error", error: a }, now: NOW });
    s = deskReducer(s, { type: "update", update: { kind: "error", error: b }, now: NOW });
    s = deskReducer(s, { type: "update", update: { kind: "error", error: a }, now: NOW });
    expect(s.errors.map((e) => e.code)).toEqual(["token", "server_unreachable"]);
    expect(mergeErrors([], Array.from({ length: 30 }, (_, i) => ({ ...a, message: String(i) })))).toHaveLength(20);
  });

  it("reset forgets everything; resync and session leave the state to the caller", () => {
    const s = loaded();
    const offline = deskReducer(s, { type: "update", update: { kind: "status", status: status({ state: "offline" }) }, now: NOW });
    const reset = deskReducer(offline, { type: "reset" });
    expect(reset).toEqual({ ...initialDesk, versions: offline.versions });
    expect(reset.status).toBeNull();
    // A snapshot asked for before the reset, with no update since, is taken whole.
    const after = deskReducer(reset, { type: "snapshot", snapshot: snapshot(), versions: offline.versions, now: NOW });
    expect(after.status?.state).toBe("live");
    expect(deskReducer(s, { type: "update", update: { kind: "resync" }, now: NOW })).toBe(s);
    expect(wantsSnapshot({ kind: "resync" })).toBe(true);
    expect(wantsSnapshot({ kind: "outbox", counts: { pending: 1, acked: 0, rejected: 0 } })).toBe(true);
    expect(wantsSnapshot({ kind: "server_event", event: event(1) })).toBe(false);
  });
});

describe("statsAsOf", () => {
  it("says as of when the figures came while not live, nothing while live", () => {
    const s = loaded();
    expect(statsAsOf(s)).toBeNull();
    const offline = deskReducer(s, {
      type: "update",
      update: { kind: "status", status: status({ state: "offline", next_retry_ms: 3000 }) },
      now: NOW,
    });
    expect(statsAsOf(offline, "UTC")).toBe("As of 08:00: these figures update when the server is back.");
    expect(statsAsOf({ ...offline, status: status({ state: "http_fallback" }) })).toBeNull();
    expect(statsAsOf({ ...offline, stats: null })).toBeNull();
  });

  it("moves the time on with each new figure", () => {
    const s = deskReducer(loaded(), {
      type: "update",
      update: { kind: "stats", stats: { occupancy: 1, today_total: 2, avg_stay_minutes: 3 } },
      now: Date.parse("2026-11-22T09:15:00Z"),
    });
    expect(s.statsAt).toBe("2026-11-22T09:15:00.000Z");
    expect(statsAsOf({ ...s, status: status({ state: "reconnecting" }) }, "UTC")).toMatch(/^As of 09:15/);
  });
});
