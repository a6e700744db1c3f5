import { describe, expect, it } from "vitest";
import { age, ago, clock, since, stay, writtenDate } from "./time";

describe("time words", () => {
  it("clock in 24 h", () => {
    expect(clock("2026-11-22T14:02:59Z", "UTC")).toBe("14:02");
    expect(clock("2026-11-22T00:05:00Z", "UTC")).toBe("00:05");
    expect(clock(null)).toBe("");
    expect(clock("garbage")).toBe("");
  });

  it("ages", () => {
    expect(age(1000)).toBe("just now");
    expect(age(42_000)).toBe("42 s");
    expect(age(5 * 60_000)).toBe("5 min");
    expect(age(3 * 3_600_000)).toBe("3 h");
    expect(age(3 * 3_600_000 + 10 * 60_000)).toBe("3 h 10 min");
    expect(age(26 * 3_600_000)).toBe("1 day");
    expect(ago(5 * 60_000)).toBe("5 min ago");
  });

  it("stays and elapsed times", () => {
    expect(stay(45)).toBe("45 min");
    expect(stay(71)).toBe("1 h 11 min");
    expect(stay(null)).toBe("");
    expect(since("2026-11-22T14:00:00Z", Date.parse("2026-11-22T14:01:00Z"))).toBe(60_000);
    expect(since(null, 0)).toBeNull();
  });
});

describe("writtenDate", () => {
  it("writes a date as people do, and leaves what it cannot read", () => {
    expect(writtenDate("2026-11-28")).toBe("28 Nov 2026");
    expect(writtenDate("2027-01-05")).toBe("5 Jan 2027");
    expect(writtenDate("2027-13-05")).toBe("2027-13-05");
    expect(writtenDate(null)).toBe("");
  });
});
