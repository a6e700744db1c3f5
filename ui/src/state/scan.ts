// The scan field's keyboard logic: what Enter does, arrow-key highlighting, when to search.

import type { Member } from "../bindings";

export const SEARCH_MIN_CHARS = 2;
export const SEARCH_DEBOUNCE_MS = 250;

export type EnterAction =
  | { kind: "member"; member: Member }
  | { kind: "card"; card: string }
  /** A name with several members found: pick one (Enter never sends a name as a card). */
  | { kind: "choose"; count: number }
  | null;

/** The search results on screen, and the text they were found for. */
export interface Shown {
  query: string;
  members: readonly Member[];
}

/**
 * Enter in the scan field: the highlighted search result when one was picked with the
 * arrow keys; while results for the very text in the field are shown, the member whose
 * card it is, or the only member found, else nothing until one is picked; otherwise the
 * field's text as a card code (a reader types the code, then Enter, before any search).
 */
export function enterAction(value: string, highlight: number, shown: Shown | null): EnterAction {
  const members = shown?.members ?? [];
  const picked = highlight >= 0 ? members[highlight] : undefined;
  if (picked) return { kind: "member", member: picked };
  const text = value.trim();
  if (!text) return null;
  if (shown && shown.query === text && members.length > 0) {
    const byCard = members.find((m) => m.card.toLowerCase() === text.toLowerCase());
    if (byCard) return { kind: "member", member: byCard };
    const only = members.length === 1 ? members[0] : undefined;
    if (only) return { kind: "member", member: only };
    return { kind: "choose", count: members.length };
  }
  return { kind: "card", card: text };
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
