import { describe, expect, it } from "vitest";
import type { Location, UserInfo, UserSummary } from "../bindings";
import { emptyStaffForm, gymNames, grantableRoles, mayManage, sortUsers, staffFormProblem, staffRequest, toggleGym } from "./admin";

const user = (over: Partial<UserSummary>): UserSummary => ({
  id: "u1",
  username: "frontdesk",
  name: "Fran",
  role: "front_desk",
  locations: ["demo"],
  disabled: false,
  ...over,
});
const gym = (id: string, name: string): Location => ({
  id,
  name,
  capacity: 100,
  reentry_window_minutes: 0,
  max_stay_minutes: 240,
  time_zone: "UTC",
  admits_other_gyms: true,
});
const manager: UserInfo = { id: "m", username: "manager", name: "Max", role: "manager", locations: ["demo", "north"] };
const admin: UserInfo = { ...manager, id: "a", role: "admin" };

describe("the admin screen", () => {
  it("lists enabled staff first, by name", () => {
    const users = [user({ id: "1", name: "Zed" }), user({ id: "2", name: "Amy", disabled: true }), user({ id: "3", name: "Bea" })];
    expect(sortUsers(users).map((u) => u.name)).toEqual(["Bea", "Zed", "Amy"]);
  });

  it("names gyms, falling back to their ids", () => {
    expect(gymNames(["demo", "far"], [gym("demo", "Downtown")])).toBe("Downtown, far");
  });

  it("a manager grants front desk and manager, an admin any role", () => {
    expect(grantableRoles(manager)).toEqual(["front_desk", "manager"]);
    expect(grantableRoles(admin)).toContain("admin");
    expect(grantableRoles(null)).toEqual([]);
  });

  it("a manager manages staff of their own gyms, not admins, not themselves", () => {
    expect(mayManage(manager, user({}))).toBe(true);
    expect(mayManage(manager, user({ locations: ["elsewhere"] }))).toBe(false);
    expect(mayManage(manager, user({ role: "admin" }))).toBe(false);
    expect(mayManage(manager, user({ id: "m" }))).toBe(false);
    expect(mayManage(admin, user({ role: "admin", locations: ["elsewhere"] }))).toBe(true);
  });

  it("checks the new-account form and sends it trimmed", () => {
    const form = { ...emptyStaffForm("demo"), username: " sam ", name: " Sam Smith ", password: "long-enough" };
    expect(staffFormProblem(form)).toBeNull();
    expect(staffFormProblem({ ...form, username: "s m" })).toMatch(/username/);
    expect(staffFormProblem({ ...form, name: "" })).toMatch(/name/);
    expect(staffFormProblem(toggleGym(form, "demo"))).toMatch(/gym/);
    expect(staffFormProblem({ ...form, password: "short" })).toMatch(/at least 8/);
    expect(staffRequest(toggleGym(form, "north"))).toEqual({
      username: "sam",
      name: "Sam Smith",
      role: "front_desk",
      locations: ["demo", "north"],
      password: "long-enough",
    });
  });
});
