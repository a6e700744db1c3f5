import { describe, expect, it } from "vitest";
import type { DeskPresence, UserInfo } from "../bindings";
import { awaitingReview, canManage, deskLine, deskRowAttrs, sortDesks, visitFlags, visitStay } from "./manager";
import { visit } from "./test-fixtures";

const user = (role: UserInfo["role"]): UserInfo => ({ id: "u", username: "u", name: "U", role, locations: ["demo"] });

describe("manager view", () => {
  it("is for managers and admins", () => {
    expect(canManage(user("manager"))).toBe(true);
    expect(canManage(user("admin"))).toBe(true);
    expect(canManage(user("front_desk"))).toBe(false);
    expect(canManage(null)).toBe(false);
  });

  it("desk rows carry online and queued for the tests", () => {
    const d: DeskPresence = { desk_id: "front-1", online: true, transport: "websocket", queued: 0 };
    expect(deskRowAttrs(d)).toEqual({ "data-desk-id": "front-1", "data-online": "true", "data-queued": "0" });
    expect(deskRowAttrs({ desk_id: "old", online: false })).toEqual({ "data-desk-id": "old", "data-online": "false", "data-queued": "" });
    expect(deskRowAttrs({ desk_id: "x", online: true, queued: 4 })["data-queued"]).toBe("4");
  });

  it("desk lines in words", () => {
    const now = Date.parse("2026-11-22T12:00:00Z");
    const line = deskLine({ desk_id: "f2", online: true, transport: "http", queued: 3, user_name: "Sam", last_seen_at: "2026-11-22T11:58:00Z" }, now);
    expect(line).toMatchObject({ status: "Online", transport: "backup link (HTTP)", queued: "3 waiting", user: "Sam", lastSeen: "2 min ago" });
    expect(deskLine({ desk_id: "v1", online: false }, now).queued).toBe("not reported");
    const sorted = sortDesks([{ desk_id: "b", online: false }, { desk_id: "c", online: true }, { desk_id: "a", online: true }]);
    expect(sorted.map((d) => d.desk_id)).toEqual(["a", "c", "b"]);
  });

  it("visits awaiting review and their flags", () => {
    const pending = visit({ id: "1", needs_review: true, queued: true, member: null });
    const kept = visit({ id: "2", needs_review: true, review: { decision: "keep", by: "m", at: "2026-11-22T12:00:00Z" } });
    const voided = visit({ id: "3", needs_review: true, voided: true });
    expect(awaitingReview([pending, kept, voided, visit({ id: "4" })]).map((v) => v.id)).toEqual(["1"]);
    expect(visitFlags(pending)).toEqual(["saved offline", "needs review"]);
    expect(visitFlags(kept)).toEqual(["kept"]);
    expect(visitFlags(voided)).toEqual(["voided"]);
    expect(visitFlags(visit({ auto: true, override: { reason: "r", rule: "membership_frozen", by: "s" } }))).toEqual(["override", "auto check-out"]);
  });

  it("stays: recorded minutes, or how long someone has been inside", () => {
    const now = Date.parse("2026-11-22T15:12:00Z");
    expect(visitStay(visit({ stay_minutes: 71, checked_out_at: "2026-11-22T15:13:00Z" }), now)).toBe("1 h 11 min");
    expect(visitStay(visit({ checked_in_at: "2026-11-22T14:02:00Z" }), now)).toBe("inside, 1 h 10 min");
  });
});
