import { describe, expect, it } from "vitest";
import { entryLine, unsent } from "./outbox";
import { entry } from "./test-fixtures";

describe("outbox lines", () => {
  it("a waiting offline check-in", () => {
    const l = entryLine(entry(), "UTC");
    expect(l).toMatchObject({ time: "09:15", who: "Grace Hopper", what: "check-in, let in offline", state: "waiting", tone: "waiting" });
  });

  it("answered entries say accepted or turned away with the answer", () => {
    expect(entryLine(entry({ state: "acked", answer: "Checked in. Welcome!" })).state).toBe("accepted");
    const no = entryLine(entry({ state: "rejected", answer: "Membership expired on 2026-10-31" }));
    expect(no.state).toBe("turned away");
    expect(no.answer).toBe("Membership expired on 2026-10-31");
    expect(no.tone).toBe("rejected");
  });

  it("names a card when the member is not known, and overrides and check-outs", () => {
    const l = entryLine(entry({ member_name: null, card: "X7", provisional: "rejected_locally", override_reason: "paid at desk" }));
    expect(l.who).toBe("Card X7");
    expect(l.what).toBe("check-in, let in by override (paid at desk)");
    expect(entryLine(entry({ action: "check_out", provisional: null })).what).toBe("check-out, saved offline");
    expect(entryLine(entry({ provisional: "unknown_member", override_reason: null })).what).toBe(
      "check-in, unverified card, saved offline",
    );
  });

  it("a scan the server decided at once says only what it was", () => {
    // Online the desk still notes its own verdict; it must not read as an override.
    expect(entryLine(entry({ offline: false, provisional: "rejected_locally" })).what).toBe("check-in");
    expect(entryLine(entry({ offline: false, action: "check_out", provisional: null })).what).toBe("check-out");
  });

  it("lists only what is not sent yet, oldest first", () => {
    const list = unsent([
      entry({ op_id: "a", state: "acked" }),
      entry({ op_id: "b" }),
      entry({ op_id: "c", state: "rejected" }),
      entry({ op_id: "d" }),
    ]);
    expect(list.map((e) => e.op_id)).toEqual(["b", "d"]);
  });
});
