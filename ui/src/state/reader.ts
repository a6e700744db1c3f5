// Telling a card reader from a person: a reader "types" a whole code at machine speed and
// ends it with Enter. Wherever the focus is (the override reason, a note, the scan field
// holding a half-typed name), such a burst is a card read and goes to the scan, and the
// field it landed in gets back what it held before. Pure, tested in reader.test.ts.

/** Longest pause between two characters of one reader burst, in ms. People take 80+. */
export const READER_GAP_MS = 35;
/** Shortest code a reader sends (the gym's cards are 5+). */
export const READER_MIN_CHARS = 4;

export type ReaderVerdict =
  /** Not a reader's burst (yet): the key does what it always does. */
  | { kind: "pass" }
  /** A reader's code, ended by this Enter: scan `card`, and give the field `restore`. */
  | { kind: "card"; card: string; restore: string };

/** Card codes are letters, digits and dashes: a reason or a name has spaces. */
const CARD_CHAR = /^[A-Za-z0-9-]$/;

export class ReaderBurst {
  private chars: string[] = [];
  private lastAt = -Infinity;
  private before = "";
  /** A fast run that held a space or another non-card key: typed text (or a program
   * typing a sentence), not a reader, until the next pause. */
  private tainted = false;

  /**
   * One key as it is pressed (before the field takes it). `at` is the event's time in ms,
   * `value` what the field holds at that moment.
   */
  key(key: string, at: number, value: string): ReaderVerdict {
    // Shift (a reader sends capitals as Shift + key) and other named keys carry no
    // character: they neither start, end nor spoil a burst.
    if (key !== "Enter" && key.length !== 1) return { kind: "pass" };
    const fast = at - this.lastAt <= READER_GAP_MS;
    if (key === "Enter") {
      const burst = fast && !this.tainted && this.chars.length >= READER_MIN_CHARS ? this.chars.join("") : null;
      this.reset();
      return burst ? { kind: "card", card: burst, restore: this.takeBefore() } : { kind: "pass" };
    }
    if (!fast) {
      // The first key after a pause, where a burst may start: remember the field as it was.
      this.chars = [];
      this.tainted = false;
      this.before = value;
    }
    this.lastAt = at;
    if (!CARD_CHAR.test(key)) {
      this.tainted = true;
      return { kind: "pass" };
    }
    this.chars.push(key);
    return { kind: "pass" };
  }

  private reset(): void {
    this.chars = [];
    this.tainted = false;
    this.lastAt = -Infinity;
  }

  private takeBefore(): string {
    const before = this.before;
    this.before = "";
    return before;
  }
}
