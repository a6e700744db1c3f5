// The scan field's keyboard logic: what Enter does, arrow-key highlighting, when to search.

import type { Member } from "../bindings";

export const SEARCH_MIN_CHARS = 2;
export const SEARCH_DEBOUNCE_MS = 250;

export type EnterAction = { kind: "member"; member: Member } | { kind: "card"; card: string } | null;

/**
 * Enter in the scan field: the highlighted search result when one was picked with the
 * arrow keys, else the field's text as a card code (a reader types the code, then Enter).
 */
export function enterAction(value: string, highlight: number, members: readonly Member[]): EnterAction {
  const picked = highlight >= 0 ? members[highlight] : undefined;
  if (picked) return { kind: "member", member: picked };
  const card = value.trim();
  return card ? { kind: "card", card } : null;
}

/** Arrow keys over the results: -1 is "none" (the card path); wraps at both ends. */
export function moveHighlight(current: number, count: number, delta: 1 | -1): number {
  if (count <= 0) return -1;
  if (current < 0) return delta > 0 ? 0 : count - 1;
  const next = current + delta;
  if (next < 0 || next >= count) return -1;
  return next;
}

/** Whether the field's text is worth a search (names and phone numbers, 2+ characters). */
export function searchable(value: string): boolean {
  return value.trim().length >= SEARCH_MIN_CHARS;
}

/**
 * Hands out numbers to requests so only the answer to the latest one is used (a slower
 * older search must not replace a newer one, nor come back after Enter cancelled it).
 */
export class Latest {
  private current = 0;
  next(): number {
    return ++this.current;
  }
  /** Makes every request handed out so far stale. */
  cancel(): void {
    this.current++;
  }
  isLatest(n: number): boolean {
    return n === this.current;
  }
}

/** A member's line in the search results: "D0001 · 555-0101 · active". */
export function memberDetail(m: Member): string {
  return [m.card, m.phone, m.status].filter((x) => x != null && x !== "").join(" · ");
}

/** Keys that type a character (and so belong in the scan field). */
export function isTypingKey(e: { key: string; ctrlKey: boolean; metaKey: boolean; altKey: boolean }): boolean {
  return e.key.length === 1 && !e.ctrlKey && !e.metaKey && !e.altKey;
}
