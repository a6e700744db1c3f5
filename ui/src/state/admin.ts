// The admin screen: staff accounts and gyms, and the new-account form's checks.

import type { Location, Role, StaffUserRequest, UserInfo, UserSummary } from "../bindings";

/** Staff in a stable order: enabled first, then by name. */
export function sortUsers(users: readonly UserSummary[]): UserSummary[] {
  return [...users].sort((a, b) => Number(a.disabled) - Number(b.disabled) || a.name.localeCompare(b.name));
}

/** A user's gyms by name where known ("Downtown, North"), else by id. */
export function gymNames(ids: readonly string[], locations: readonly Location[]): string {
  return ids.map((id) => locations.find((l) => l.id === id)?.name ?? id).join(", ");
}

/** The roles the signed-in user may give: an admin any, a manager front desk and manager. */
export function grantableRoles(me: UserInfo | null | undefined): Role[] {
  if (me?.role === "admin") return ["front_desk", "manager", "admin"];
  if (me?.role === "manager") return ["front_desk", "manager"];
  return [];
}

/** Whether the signed-in user may change this account (the server has the last word). */
export function mayManage(me: UserInfo | null | undefined, user: UserSummary): boolean {
  if (!me || me.id === user.id) return false;
  if (me.role === "admin") return true;
  if (me.role !== "manager" || user.role === "admin") return false;
  return user.locations.every((l) => me.locations.includes(l));
}

export interface StaffForm {
  username: string;
  name: string;
  role: Role;
  locations: string[];
  password: string;
}

export const MIN_PASSWORD = 8;

export function emptyStaffForm(defaultGym: string | null): StaffForm {
  return { username: "", name: "", role: "front_desk", locations: defaultGym ? [defaultGym] : [], password: "" };
}

/** What is wrong with the new-account form; null when it can be sent. */
export function staffFormProblem(form: StaffForm): string | null {
  if (!form.username.trim()) return "Choose a username (the name the person signs in with).";
  if (/\s/.test(form.username.trim())) return "A username cannot contain spaces; use e.g. sam.smith.";
  if (!form.name.trim()) return "Enter the person's name.";
  if (form.locations.length === 0) return "Tick at least one gym the person works at.";
  if (form.password.length < MIN_PASSWORD) return `Choose a password of at least ${MIN_PASSWORD} characters.`;
  return null;
}

export function staffRequest(form: StaffForm): StaffUserRequest {
  return {
    username: form.username.trim(),
    name: form.name.trim(),
    role: form.role,
    locations: form.locations,
    password: form.password,
  };
}

/** Ticks or unticks a gym in the form. */
export function toggleGym(form: StaffForm, id: string): StaffForm {
  const locations = form.locations.includes(id) ? form.locations.filter((l) => l !== id) : [...form.locations, id];
  return { ...form, locations };
}
