import { describe, expect, it } from "vitest";
import type { SessionInfo, UserInfo } from "../bindings";
import { firstChoice, nextSession } from "./session";

const ada: UserInfo = { id: "u1", username: "frontdesk", name: "Ada", role: "front_desk", locations: ["demo"] };
const max: UserInfo = { id: "u2", username: "manager", name: "Max", role: "manager", locations: ["demo"] };
const on = (user: UserInfo | null, over: Partial<SessionInfo> = {}): SessionInfo => ({
  signed_in: true,
  user,
  server: "http://s",
  location_id: "demo",
  ...over,
});
const off: SessionInfo = { signed_in: false, user: null, server: "http://s", location_id: "demo" };

describe("nextSession", () => {
  it("a first sign-in starts fresh; the same session again does not", () => {
    expect(nextSession(null, on(ada)).fresh).toBe(true);
    expect(nextSession(off, on(ada)).fresh).toBe(true);
    expect(nextSession(on(ada), on(ada)).fresh).toBe(false);
  });

  it("another user, server or gym starts fresh", () => {
    expect(nextSession(on(ada), on(max)).fresh).toBe(true);
    expect(nextSession(on(ada), on(ada, { server: "http://other" })).fresh).toBe(true);
    expect(nextSession(on(ada), on(ada, { location_id: "uptown" })).fresh).toBe(true);
  });

  it("an update without the user keeps the known user", () => {
    const step = nextSession(on(ada), on(null));
    expect(step.fresh).toBe(false);
    expect(step.session.user?.id).toBe("u1");
  });

  it("signing out is shown as it is", () => {
    const step = nextSession(on(ada), off);
    expect(step.session.signed_in).toBe(false);
    expect(step.fresh).toBe(false);
  });
});

describe("firstChoice", () => {
  it("offers the desk's last gym first, else the first listed, else nothing", () => {
    const demo = { id: "demo", name: "Demo", remembered: false };
    const north = { id: "north", name: "North", remembered: true };
    expect(firstChoice([demo, north])).toBe("north");
    expect(firstChoice([demo, { ...north, remembered: false }])).toBe("demo");
    expect(firstChoice([])).toBe("");
  });
});
