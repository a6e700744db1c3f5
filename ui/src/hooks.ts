import { useEffect, useRef, useState, type RefObject } from "react";
import { isTypingKey } from "./state/scan";
import { ReaderBurst } from "./state/reader";

/** The current time, re-read every `intervalMs` while `enabled`. */
export function useNow(intervalMs: number, enabled = true): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!enabled) return;
    setNow(Date.now());
    const id = window.setInterval(() => setNow(Date.now()), intervalMs);
    return () => window.clearInterval(id);
  }, [intervalMs, enabled]);
  return now;
}

/** Fields where typing belongs to the field itself (the scan field, a reason, a note). */
export function isTextEntry(el: Element | null): boolean {
  if (!el) return false;
  if (el instanceof HTMLTextAreaElement || el instanceof HTMLSelectElement) return true;
  if (el instanceof HTMLInputElement) {
    return !["button", "submit", "reset", "checkbox", "radio", "range", "color", "file", "image"].includes(el.type);
  }
  return el instanceof HTMLElement && el.isContentEditable;
}

/** Marks a form whose fields keep the focus while it is open (`data-own-focus`). */
export const OWN_FOCUS = "[data-own-focus]";

/**
 * Keeps the scan field focused while `active`: at once, when focus falls to nothing, after
 * a click on anything but a text field (buttons still work: the click lands first), and
 * when a key that types a character is pressed outside a text field (so a card reader's
 * code never lands on a button). Tab still reaches every button for keyboard use. Forms
 * marked with `data-own-focus` keep the focus while open; closing them gives it back.
 */
export function useKeepFocus(ref: RefObject<HTMLInputElement | null>, active: boolean): void {
  useEffect(() => {
    if (!active) return;
    const focusScan = () => {
      const el = ref.current;
      if (el && document.activeElement !== el) el.focus({ preventScroll: true });
    };
    const focusIfLost = () => {
      const a = document.activeElement;
      if (!a || a === document.body || a === document.documentElement) focusScan();
    };
    const timers = new Set<number>();
    const later = (f: () => void) => {
      const id = window.setTimeout(() => {
        timers.delete(id);
        f();
      }, 0);
      timers.add(id);
    };
    const onFocusOut = (e: FocusEvent) => {
      if (e.relatedTarget == null) later(focusIfLost);
    };
    // A click inside a form that holds its own fields (the walk-in form, a renewal)
    // leaves the focus there: a quick-pick button must not send the next key elsewhere.
    const onClick = (e: MouseEvent) => {
      if (e.target instanceof Element && e.target.closest(OWN_FOCUS)) return;
      later(() => {
        if (!isTextEntry(document.activeElement)) focusScan();
      });
    };
    const onKeyDown = (e: KeyboardEvent) => {
      const a = document.activeElement;
      if (isTextEntry(a)) return;
      if (e.key === " " && a instanceof HTMLElement && a !== document.body) return; // Space presses a button
      if (isTypingKey(e)) focusScan();
    };
    const onWindowFocus = () => later(focusIfLost);
    focusScan();
    document.addEventListener("focusout", onFocusOut);
    document.addEventListener("click", onClick);
    document.addEventListener("keydown", onKeyDown, true);
    window.addEventListener("focus", onWindowFocus);
    return () => {
      document.removeEventListener("focusout", onFocusOut);
      document.removeEventListener("click", onClick);
      document.removeEventListener("keydown", onKeyDown, true);
      window.removeEventListener("focus", onWindowFocus);
      timers.forEach((id) => window.clearTimeout(id));
    };
  }, [ref, active]);
}

/** Sets a field's text so that React's own state follows (as if the person typed it). */
function setFieldValue(el: HTMLInputElement | HTMLTextAreaElement, value: string): void {
  const proto = el instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
  Object.getOwnPropertyDescriptor(proto, "value")?.set?.call(el, value);
  el.dispatchEvent(new Event("input", { bubbles: true }));
}

/**
 * A card read while another text field has the focus (the override reason, a note, a
 * form) is a scan, not text: the burst goes to `onCard`, the field gets back what it held,
 * and its form is not submitted by the reader's Enter. The scan field itself tells
 * bursts apart on its own (ScanBox); a field marked `data-card-field` wants the code.
 */
export function useReaderRouting(
  scanRef: RefObject<HTMLInputElement | null>,
  active: boolean,
  onCard: (card: string) => void,
): void {
  const latest = useRef(onCard);
  latest.current = onCard;
  useEffect(() => {
    if (!active) return;
    const burst = new ReaderBurst();
    const onKeyDown = (e: KeyboardEvent) => {
      const a = document.activeElement;
      if (a === scanRef.current || !(a instanceof HTMLInputElement || a instanceof HTMLTextAreaElement)) return;
      // A field that asks for a card (a walk-in's new card) takes the reader's code itself.
      if (!isTextEntry(a) || a.closest("[data-card-field]")) return;
      const verdict = burst.key(e.key, e.timeStamp, a.value);
      if (verdict.kind !== "card") return;
      e.preventDefault();
      e.stopPropagation();
      setFieldValue(a, verdict.restore);
      latest.current(verdict.card);
    };
    document.addEventListener("keydown", onKeyDown, true);
    return () => document.removeEventListener("keydown", onKeyDown, true);
  }, [scanRef, active]);
}
