import { describe, expect, it } from "vitest";
import {
  canAddAsMember,
  changeWords,
  dayOf,
  emptyMemberForm,
  hasFreeze,
  memberFormProblem,
  monthsAfter,
  newMemberRequest,
  parseDay,
  renewalProblem,
  renewalSuggestion,
  withChangedMember,
} from "./members";
import { member, scan } from "./test-fixtures";

const today = "2026-12-01";

describe("days", () => {
  it("reads only real calendar days", () => {
    expect(parseDay(" 2027-01-31 ")).toBe("2027-01-31");
    expect(parseDay("2027-02-30")).toBeNull();
    expect(parseDay("31/01/2027")).toBeNull();
    expect(parseDay("")).toBeNull();
  });

  it("a term ends the day before the same date, clamped at the month's end", () => {
    expect(monthsAfter("2026-03-01", 1)).toBe("2026-03-31");
    expect(monthsAfter("2026-12-01", 12)).toBe("2027-11-30");
    expect(monthsAfter("2027-01-31", 1)).toBe("2027-02-28");
    expect(monthsAfter("2027-01-28", 1)).toBe("2027-02-27");
    expect(monthsAfter("2026-11-15", 3)).toBe("2027-02-14");
  });

  it("the local day of a date", () => {
    expect(dayOf(new Date(2026, 0, 5, 23, 30))).toBe("2026-01-05");
  });
});

describe("the walk-in form", () => {
  const filled = { name: " Wanda Walker ", card: " W0001 ", phone: " ", validUntil: "2026-12-31" };

  it("says what is missing, in order", () => {
    expect(memberFormProblem({ ...filled, name: " " }, today)).toMatch(/name/);
    expect(memberFormProblem({ ...filled, card: "" }, today)).toMatch(/card/);
    expect(memberFormProblem({ ...filled, card: "W 1" }, today)).toMatch(/spaces/);
    expect(memberFormProblem({ ...filled, validUntil: "soon" }, today)).toMatch(/year-month-day/);
    expect(memberFormProblem({ ...filled, validUntil: "2026-11-30" }, today)).toMatch(/past/);
    expect(memberFormProblem(filled, today)).toBeNull();
    expect(memberFormProblem({ ...filled, validUntil: today }, today)).toBeNull();
  });

  it("sends trimmed values and no empty phone", () => {
    expect(newMemberRequest(filled)).toEqual({
      name: "Wanda Walker",
      card: "W0001",
      phone: null,
      email: null,
      valid_until: "2026-12-31",
    });
  });

  it("starts with the scanned card and a month's membership", () => {
    expect(emptyMemberForm(" W0002 ", today)).toEqual({ name: "", card: "W0002", phone: "", validUntil: "2026-12-31" });
  });
});

describe("member actions on the result panel", () => {
  it("offers to add a card nobody has", () => {
    const unknownOnline = scan({ status: "rejected", member: null, code: "member_not_found", card: "W0009" });
    const unknownOffline = scan({ status: "unknown", member: null, code: null, card: "W0009" });
    expect(canAddAsMember(unknownOnline)).toBe(true);
    expect(canAddAsMember(unknownOffline)).toBe(true);
    expect(canAddAsMember(scan({ status: "rejected", code: "membership_expired" }))).toBe(false);
    expect(canAddAsMember({ ...unknownOnline, card: null })).toBe(false);
    expect(canAddAsMember({ ...unknownOnline, action: "check_out" })).toBe(false);
  });

  it("suggests a year's renewal from today, or from the end of a running membership", () => {
    expect(renewalSuggestion(member({ valid_until: "2026-10-31" }), today)).toBe("2027-11-30");
    expect(renewalSuggestion(member({ valid_until: "2027-03-31" }), today)).toBe("2028-03-31");
    expect(renewalSuggestion(null, today)).toBe("2027-11-30");
    expect(renewalProblem("2026-11-30", today)).toMatch(/past/);
    expect(renewalProblem("2027-13-01", today)).toMatch(/year-month-day/);
    expect(renewalProblem("2027-11-30", today)).toBeNull();
  });

  it("offers unfreeze while a freeze has not ended", () => {
    expect(hasFreeze(member({ frozen_from: "2026-11-01", frozen_until: null }), today)).toBe(true);
    expect(hasFreeze(member({ frozen_from: "2026-12-10", frozen_until: "2026-12-20" }), today)).toBe(true);
    expect(hasFreeze(member({ frozen_from: "2026-10-01", frozen_until: "2026-10-31" }), today)).toBe(false);
    expect(hasFreeze(member(), today)).toBe(false);
  });

  it("a changed member replaces the same member on the panel only", () => {
    const renewed = member({ valid_until: "2027-11-30" });
    expect(withChangedMember(scan(), renewed).member?.valid_until).toBe("2027-11-30");
    const other = member({ id: "m2", valid_until: "2027-11-30" });
    expect(withChangedMember(scan(), other).member?.valid_until).toBeNull();
  });

  it("says what a change did", () => {
    expect(changeWords("renewed", member({ valid_until: "2027-11-30" }))).toContain("until 2027-11-30");
    expect(changeWords("frozen", member({ frozen_until: null }))).toContain("until unfrozen");
    expect(changeWords("unfrozen", member({ status: "expired" }))).toContain("once renewed");
  });
});
