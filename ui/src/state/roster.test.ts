import { describe, expect, it } from "vitest";
import { rosterAge } from "./roster";

const SYNC = "2026-11-22T08:00:00Z";
const at = (hours: number) => Date.parse(SYNC) + hours * 3_600_000;

describe("rosterAge", () => {
  it("a fresh list says how old and how big it is", () => {
    const r = rosterAge(SYNC, 200, at(0.5));
    expect(r).toEqual({ text: "Member list (200 members) updated 30 min ago.", stale: false, missing: false });
  });

  it("warns past 24 hours", () => {
    expect(rosterAge(SYNC, 200, at(23.9)).stale).toBe(false);
    const old = rosterAge(SYNC, 200, at(50));
    expect(old.stale).toBe(true);
    expect(old.text).toContain("2 days ago");
    expect(old.text).toMatch(/out of date/);
  });

  it("no list at all: every card is unverified", () => {
    expect(rosterAge(null, 0, at(1))).toMatchObject({ missing: true, stale: true });
    expect(rosterAge(SYNC, 0, at(1)).missing).toBe(true);
    expect(rosterAge("not a date", 5, at(1)).missing).toBe(true);
    expect(rosterAge(SYNC, 1, at(0)).text).toBe("Member list (1 member) updated just now.");
  });
});
