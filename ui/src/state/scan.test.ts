import { describe, expect, it } from "vitest";
import { enterAction, isTypingKey, Latest, memberDetail, moveHighlight, searchable } from "./scan";
import { member } from "./test-fixtures";

const found = [member({ id: "a", name: "Ada", card: "D0100" }), member({ id: "b", name: "Bea", card: "D0200" })];
const shown = (query: string, members = found) => ({ query, members });

describe("Enter in the scan field", () => {
  it("checks in the card typed, trimmed", () => {
    expect(enterAction("  D0001 ", -1, null)).toEqual({ kind: "card", card: "D0001" });
    // Results on screen are for other text (the reader typed past them): a card.
    expect(enterAction("D0001", -1, shown("ad"))).toEqual({ kind: "card", card: "D0001" });
    expect(enterAction("D0001", -1, shown("D0001", []))).toEqual({ kind: "card", card: "D0001" });
  });

  it("checks in the highlighted member instead", () => {
    expect(enterAction("ad", 1, shown("ad"))).toEqual({ kind: "member", member: found[1] });
  });

  it("never sends a name with results on screen as a card", () => {
    expect(enterAction("a", -1, shown("a"))).toEqual({ kind: "choose", count: 2 });
    expect(enterAction("ada", -1, shown("ada", [found[0]!]))).toEqual({ kind: "member", member: found[0] });
    expect(enterAction("d0200", -1, shown("d0200"))).toEqual({ kind: "member", member: found[1] });
  });

  it("does nothing on an empty field, and ignores a highlight past the list", () => {
    expect(enterAction("   ", -1, shown("ad"))).toBeNull();
    expect(enterAction("D9", 5, shown("ad"))).toEqual({ kind: "card", card: "D9" });
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
