import { describe, expect, it } from "vitest";
import { READER_GAP_MS, ReaderBurst } from "./reader";

/**
 * Feeds `text` into a field holding `field`, one key every `gap` ms from `start` (no key
 * but Enter is ever taken from the field); returns the field's text and the last key's time.
 */
function feed(burst: ReaderBurst, field: string, text: string, gap: number, start = 1000) {
  let value = field;
  let at = start - gap;
  for (const ch of text) {
    at += gap;
    expect(burst.key(ch, at, value)).toEqual({ kind: "pass" });
    value += ch;
  }
  return { value, at };
}

/** `feed`, then Enter soon after the last key. */
function type(burst: ReaderBurst, field: string, text: string, gap: number, start = 1000) {
  const { value, at } = feed(burst, field, text, gap, start);
  return burst.key("Enter", at + Math.min(gap, 10), value);
}

describe("ReaderBurst", () => {
  it("takes a fast code ended by Enter as a card, and gives the field back what it held", () => {
    const burst = new ReaderBurst();
    expect(type(burst, "paid at ", "D0042", 8)).toEqual({ kind: "card", card: "D0042", restore: "paid at " });
  });

  it("leaves people's typing alone, however it ends", () => {
    const burst = new ReaderBurst();
    expect(type(burst, "", "D0042", 120)).toEqual({ kind: "pass" });
    expect(type(burst, "", "renewed at the counter", 5)).toEqual({ kind: "pass" });
    expect(type(burst, "", "ab1", 5)).toEqual({ kind: "pass" });
  });

  it("finds the burst after what a person typed first (a half-typed name in the scan field)", () => {
    const burst = new ReaderBurst();
    const person = feed(burst, "", "ann", 150, 0);
    const reader = feed(burst, person.value, "D0007", 5, person.at + 150);
    expect(burst.key("Enter", reader.at + 5, reader.value)).toEqual({ kind: "card", card: "D0007", restore: "ann" });
  });

  it("Shift between the keys of a reader's capitals does not spoil the burst", () => {
    const burst = new ReaderBurst();
    burst.key("Shift", 0, "");
    burst.key("D", 2, "");
    burst.key("Shift", 4, "D");
    for (const [i, ch] of [..."0042"].entries()) burst.key(ch, 6 + i * 4, "D" + "0042".slice(0, i));
    expect(burst.key("Enter", 30, "D0042")).toEqual({ kind: "card", card: "D0042", restore: "" });
  });

  it("an Enter long after the last key is a person's", () => {
    const burst = new ReaderBurst();
    const { value, at } = feed(burst, "", "D0042", 5, 0);
    expect(burst.key("Enter", at + READER_GAP_MS + 200, value)).toEqual({ kind: "pass" });
  });
});
