import { describe, expect, it } from "vitest";
import { describeEvent, feedLineText, FEED_LIMIT, lastSeqOf, mergeFeed } from "./feed";
import { event, member, visit } from "./test-fixtures";

describe("mergeFeed", () => {
  it("keeps one entry per seq, newest first", () => {
    const feed = mergeFeed([event(3), event(1)], [event(2), event(3), event(4)]);
    expect(feed.map((e) => e.seq)).toEqual([4, 3, 2, 1]);
  });

  it("keeps at most the limit, dropping the oldest", () => {
    const many = Array.from({ length: 70 }, (_, i) => event(i + 1));
    const feed = mergeFeed([], many);
    expect(feed).toHaveLength(FEED_LIMIT);
    expect(feed[0]?.seq).toBe(70);
    expect(feed[FEED_LIMIT - 1]?.seq).toBe(21);
  });

  it("does not modify its inputs and replaces a repeated seq with the later copy", () => {
    const current = [event(5, { kind: "member_checked_in" })];
    const frozen = JSON.stringify(current);
    const feed = mergeFeed(current, [event(5, { kind: "member_checked_out" })]);
    expect(JSON.stringify(current)).toBe(frozen);
    expect(feed).toHaveLength(1);
    expect(feed[0]?.kind).toBe("member_checked_out");
  });

  it("an event arriving out of order lands in its place", () => {
    const feed = mergeFeed([event(10), event(8)], [event(9)]);
    expect(feed.map((e) => e.seq)).toEqual([10, 9, 8]);
    expect(lastSeqOf(feed)).toBe(10);
    expect(lastSeqOf([])).toBe(0);
  });
});

describe("describeEvent", () => {
  it("says who checked in where, with the time", () => {
    const line = describeEvent(event(1), "UTC");
    expect(feedLineText(line)).toBe("14:02 Ada Lovelace checked in at front-1");
    expect(line.tone).toBe("in");
  });

  it("marks check-ins saved offline and overrides, in staff words", () => {
    const e = event(2, {
      override: true,
      check_in: visit({ queued: true, override: { reason: "renewed", rule: "membership_expired", by: "sam" } }),
    });
    const text = feedLineText(describeEvent(e, "UTC"));
    expect(text).toContain("(saved offline, override)");
    expect(text).not.toMatch(/queued/);
  });

  it("describes automatic check-outs and stays", () => {
    const e = event(3, {
      kind: "member_checked_out",
      auto: true,
      at: "2026-11-22T23:00:00Z",
      check_in: visit({ checked_out_at: "2026-11-22T23:00:00Z", stay_minutes: 240, auto: true }),
    });
    const line = describeEvent(e, "UTC");
    expect(line.text).toBe("Ada Lovelace checked out automatically (maximum stay) after 4 h 0 min");
    expect(line.tags).toContain("auto check-out");
    const normal = describeEvent(event(4, { kind: "member_checked_out", check_in: visit({ stay_minutes: 45 }) }), "UTC");
    expect(normal.text).toBe("Ada Lovelace checked out at front-1 after 45 min");
  });

  it("describes reviews, unknown members and kinds this build does not know", () => {
    const reviewed = event(5, {
      kind: "visit_reviewed",
      check_in: visit({ member: null, card: "X9", review: { decision: "void", by: "manager", at: "2026-11-22T15:00:00Z" } }),
    });
    expect(describeEvent(reviewed, "UTC").text).toBe("Card X9: visit voided by manager");
    const future = describeEvent(event(6, { kind: "locker_opened", check_in: null }), "UTC");
    expect(future.text).toBe("locker opened");
    expect(future.tone).toBe("other");
  });

  it("describes member changes and bulk imports", () => {
    const renewed = event(7, { kind: "member_updated", check_in: null, member: member({ name: "Bo Renewed" }) });
    expect(describeEvent(renewed, "UTC").text).toBe("Bo Renewed: member details changed (membership active)");
    const imported = event(8, { kind: "member_updated", check_in: null, member: null });
    expect(describeEvent(imported, "UTC").text).toBe("Member list updated (import)");
  });
});
