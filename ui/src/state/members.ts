// Adding and changing members at the desk: the walk-in form's checks, the dates staff
// pick, and which member actions the result panel offers.

import type { Member, NewMemberRequest, ScanResult } from "../bindings";
import { writtenDate } from "./time";

/** A calendar day as the server takes it: `YYYY-MM-DD`. */
export type Day = string;

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

/** The local calendar day of `date` (the desk's day, as the receptionist sees it). */
export function dayOf(date: Date): Day {
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** `text` as a real calendar day (`2027-02-30` is not one), else null. */
export function parseDay(text: string): Day | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text.trim());
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(y, mo - 1, d);
  if (date.getFullYear() !== y || date.getMonth() !== mo - 1 || date.getDate() !== d) return null;
  return `${m[1]}-${m[2]}-${m[3]}`;
}

/**
 * `months` after `day`, on the day before the same date (a month from 1 March runs to
 * 31 March), or to the month's end when it has no such date (a month from 31 January runs to 28
 * February).
 */
export function monthsAfter(day: Day, months: number): Day {
  const [y, m, d] = day.split("-").map(Number) as [number, number, number];
  const target = new Date(y, m - 1 + months, 1);
  const lastDay = new Date(target.getFullYear(), target.getMonth() + 1, 0).getDate();
  if (d > lastDay) return dayOf(new Date(target.getFullYear(), target.getMonth(), lastDay));
  return dayOf(new Date(target.getFullYear(), target.getMonth(), d - 1));
}

/** The quick picks for a membership's end date. */
export const TERMS: readonly { label: string; months: number }[] = [
  { label: "1 month", months: 1 },
  { label: "3 months", months: 3 },
  { label: "1 year", months: 12 },
];

export interface MemberForm {
  name: string;
  card: string;
  phone: string;
  validUntil: string;
}

export function emptyMemberForm(card = "", today?: Day): MemberForm {
  return { name: "", card: card.trim(), phone: "", validUntil: today ? monthsAfter(today, 1) : "" };
}

/** What is wrong with the walk-in form, in words the receptionist can act on; null when it can be saved. */
export function memberFormProblem(form: MemberForm, today: Day): string | null {
  if (!form.name.trim()) return "Enter the member's name.";
  if (!form.card.trim()) return "Scan the member's new card (or type its code) into the card field.";
  if (/\s/.test(form.card.trim())) return "A card code has no spaces; scan the card again.";
  const until = parseDay(form.validUntil);
  if (!until) return "Give the membership's last day as year-month-day (e.g. 2027-01-31), or pick 1 month, 3 months or 1 year.";
  if (until < today) return "The membership's last day is in the past; pick a day from today on.";
  return null;
}

export function newMemberRequest(form: MemberForm): NewMemberRequest {
  const phone = form.phone.trim();
  return {
    name: form.name.trim(),
    card: form.card.trim(),
    phone: phone ? phone : null,
    email: null,
    valid_until: parseDay(form.validUntil) ?? form.validUntil.trim(),
  };
}

/** Whether the panel offers "Add as new member": a card nobody has. */
export function canAddAsMember(result: ScanResult): boolean {
  return (
    result.action === "check_in" &&
    Boolean(result.card) &&
    !result.member &&
    (result.code === "member_not_found" || result.status === "unknown")
  );
}

/** A renewal's suggested end: a year after the later of today and the current end. */
export function renewalSuggestion(member: Member | null | undefined, today: Day): Day {
  const current = member?.valid_until ?? null;
  // A membership still running is extended from the day after its end (no paid day lost).
  const start = current && current >= today ? nextDay(current) : today;
  return monthsAfter(start, 12);
}

function nextDay(day: Day): Day {
  const [y, m, d] = day.split("-").map(Number) as [number, number, number];
  return dayOf(new Date(y, m - 1, d + 1));
}

/** A renewal end the manager typed: a real day, from today on. */
export function renewalProblem(text: string, today: Day): string | null {
  const day = parseDay(text);
  if (!day) return "Give the new last day as year-month-day, e.g. 2027-01-31.";
  if (day < today) return "The new last day is in the past; pick a day from today on.";
  return null;
}

/** Whether a freeze is set that has not ended (today or later): the panel offers "Unfreeze". */
export function hasFreeze(member: Member | null | undefined, today: Day): boolean {
  if (!member?.frozen_from) return false;
  return member.frozen_until == null || member.frozen_until >= today;
}

/** The member on a result panel, as the latest change made it (same id), else unchanged. */
export function withChangedMember(result: ScanResult, member: Member): ScanResult {
  if (result.member?.id !== member.id) return result;
  return { ...result, member };
}

/** What a manager's change did, for the panel. */
export function changeWords(kind: "renewed" | "frozen" | "unfrozen", member: Member): string {
  switch (kind) {
    case "renewed":
      return `Renewed: ${member.name}'s membership now runs until ${member.valid_until ?? "further notice"}.`;
    case "frozen":
      return `Frozen: ${member.name} cannot check in${member.frozen_until ? ` until after ${writtenDate(member.frozen_until)}` : " until unfrozen"}.`;
    case "unfrozen":
      return `Unfrozen: ${member.name} can check in again${member.status === "expired" ? " once renewed (the membership has expired)" : ""}.`;
  }
}
