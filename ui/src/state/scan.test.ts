import { describe, expect, it } from "vitest";
import { enterAction, isTypingKey, Latest, memberDetail, moveHighlight, searchable } from "./scan";
import { member } from "./test-fixtures";

const found = [member({ id: "a", name: "Ada" }), member({ id: "b", name: "Bea" })];

describe("Enter in the scan field", () => {
  it("checks in the card typed, trimmed", () => {
    expect(enterAction("  D0001 ", -1, [])).toEqual({ kind: "card", card: "D0001" });
    expect(enterAction("D0001", -1, found)).toEqual({ kind: "card", card: "D0001" });
  });

  it("checks in the highlighted member instead", () => {
    expect(enterAction("ad", 1, found)).toEqual({ kind: "member", member: found[1] });
  });

  it("does nothing on an empty field, and ignores a highlight past the list", () => {
    expect(enterAction("   ", -1, found)).toBeNull();
    expect(enterAction("D9", 5, found)).toEqual({ kind: "card", card: "D9" });
  });
});

describe("arrow keys", () => {
  it("move through the results and back to none", () => {
    expect(moveHighlight(-1, 2, 1)).toBe(0);
    expect(moveHighlight(0, 2, 1)).toBe(1);
    expect(moveHighlight(1, 2, 1)).toBe(-1);
    expect(moveHighlight(-1, 2, -1)).toBe(1);
    expect(moveHighlight(0, 2, -1)).toBe(-1);
    expect(moveHighlight(0, 0, 1)).toBe(-1);
  });
});

describe("search", () => {
  it("starts at two characters", () => {
    expect(searchable("a")).toBe(false);
    expect(searchable(" a ")).toBe(false);
    expect(searchable("ad")).toBe(true);
  });

  it("only the latest request counts; cancel makes all stale", () => {
    const l = new Latest();
    const first = l.next();
    const second = l.next();
    expect(l.isLatest(first)).toBe(false);
    expect(l.isLatest(second)).toBe(true);
    l.cancel();
    expect(l.isLatest(second)).toBe(false);
  });

  it("member details and typing keys", () => {
    expect(memberDetail(member({ phone: null }))).toBe("D0001 · active");
    expect(isTypingKey({ key: "D", ctrlKey: false, metaKey: false, altKey: false })).toBe(true);
    expect(isTypingKey({ key: "Enter", ctrlKey: false, metaKey: false, altKey: false })).toBe(false);
    expect(isTypingKey({ key: "c", ctrlKey: true, metaKey: false, altKey: false })).toBe(false);
  });
});
