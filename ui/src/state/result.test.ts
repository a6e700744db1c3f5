import { describe, expect, it } from "vitest";
import {
  canCheckOut,
  canOverride,
  checkOutRequest,
  initialResult,
  overrideRequest,
  resultReducer,
  resultTitle,
  announcement,
  soundCue,
  verdict,
  type ResultAction,
  type ResultState,
} from "./result";
import { member, scan } from "./test-fixtures";

function run(actions: ResultAction[], from: ResultState = initialResult): ResultState {
  return actions.reduce(resultReducer, from);
}

const queued = (op: string) => scan({ op_id: op, status: "queued", provisional: true, message: "Checked in offline." });
const rejected = (op: string) => scan({ op_id: op, status: "rejected", message: "Membership expired on 2026-10-31" });
const accepted = (op: string) => scan({ op_id: op, status: "accepted", elapsed_ms: 0 });

describe("result panel", () => {
  it("shows the scan's result; absent before the first scan", () => {
    expect(initialResult.shown).toBeNull();
    const s = run([
      { type: "started", token: 1, label: "D0001" },
      { type: "succeeded", token: 1, result: scan() },
    ]);
    expect(s.shown?.result.status).toBe("accepted");
    expect(s.inFlight).toEqual([]);
  });

  it("a late answer to an older scan does not replace a newer one", () => {
    const s = run([
      { type: "started", token: 1, label: "D0001" },
      { type: "started", token: 2, label: "D0002" },
      { type: "succeeded", token: 2, result: scan({ op_id: "b", card: "D0002" }) },
      { type: "succeeded", token: 1, result: scan({ op_id: "a" }) },
    ]);
    expect(s.shown?.result.op_id).toBe("b");
  });

  it("queued then accepted by the server: green, confirmed, same elapsed time", () => {
    const s = run([
      { type: "started", token: 1, label: "D0002" },
      { type: "succeeded", token: 1, result: { ...queued("q"), elapsed_ms: 7 } },
      { type: "settled", result: accepted("q") },
    ]);
    expect(s.shown?.result.status).toBe("accepted");
    expect(s.shown?.late).toBe("confirmed");
    expect(s.shown?.result.elapsed_ms).toBe(7);
    expect(s.alerts).toEqual([]);
  });

  it("queued then rejected by the server while shown: the panel turns red, loudly", () => {
    const before = run([
      { type: "started", token: 1, label: "D0002" },
      { type: "succeeded", token: 1, result: queued("q") },
    ]);
    const after = resultReducer(before, { type: "settled", result: rejected("q") });
    expect(after.shown?.result.status).toBe("rejected");
    expect(after.shown?.late).toBe("rejected");
    expect(verdict(after.shown!.result, after.shown!.late)).toEqual({ symbol: "✕", words: "Turned away by the server" });
    expect(soundCue(before, after)).toBe("no");
  });

  it("a settled answer for another scan leaves the panel alone", () => {
    const before = run([
      { type: "started", token: 1, label: "D0002" },
      { type: "succeeded", token: 1, result: queued("q") },
    ]);
    const after = resultReducer(before, { type: "settled", result: accepted("other") });
    expect(after.shown).toBe(before.shown);
  });

  it("the server answering before the command returns: the panel shows the answer", () => {
    const s = run([
      { type: "started", token: 1, label: "D0003" },
      { type: "settled", result: accepted("fast") },
      { type: "succeeded", token: 1, result: { ...queued("fast"), elapsed_ms: 3001 } },
    ]);
    expect(s.shown?.result.status).toBe("accepted");
    expect(s.shown?.result.elapsed_ms).toBe(3001);
  });

  it("a queued scan no longer on the panel that the server rejects becomes an alert", () => {
    const s = run([
      { type: "started", token: 1, label: "D0002" },
      { type: "succeeded", token: 1, result: queued("q") },
      { type: "started", token: 2, label: "D0003" },
      { type: "succeeded", token: 2, result: queued("r") },
      { type: "settled", result: rejected("q") },
    ]);
    expect(s.shown?.result.op_id).toBe("r");
    expect(s.alerts.map((a) => a.op_id)).toEqual(["q"]);
    const dismissed = resultReducer(s, { type: "dismiss_alert", opId: "q" });
    expect(dismissed.alerts).toEqual([]);
  });

  it("an online rejection the receptionist already saw raises no alert when its answer arrives", () => {
    const s = run([
      { type: "started", token: 1, label: "D0181" },
      { type: "succeeded", token: 1, result: rejected("x") },
      { type: "started", token: 2, label: "D0001" },
      { type: "succeeded", token: 2, result: scan({ op_id: "y" }) },
      { type: "settled", result: rejected("x") },
    ]);
    expect(s.alerts).toEqual([]);
  });

  it("a rejection arriving while a scan is in flight waits: claimed by that scan, or an alert", () => {
    const claimed = run([
      { type: "started", token: 1, label: "D0181" },
      { type: "settled", result: rejected("mine") },
      { type: "succeeded", token: 1, result: rejected("mine") },
    ]);
    expect(claimed.alerts).toEqual([]);
    expect(claimed.held).toEqual([]);

    const replay = run([
      { type: "started", token: 1, label: "D0001" },
      { type: "settled", result: rejected("old-replay") },
    ]);
    expect(replay.alerts).toEqual([]);
    const done = resultReducer(replay, { type: "succeeded", token: 1, result: scan({ op_id: "new" }) });
    expect(done.alerts.map((a) => a.op_id)).toEqual(["old-replay"]);
  });

  it("a failed scan keeps the panel and shows the error until the next result", () => {
    const s = run([
      { type: "started", token: 1, label: "D0001" },
      { type: "succeeded", token: 1, result: scan() },
      { type: "started", token: 2, label: "D0002" },
      { type: "failed", token: 2, error: { code: "signed_out", message: "Nobody is signed in." } },
    ]);
    expect(s.shown?.token).toBe(1);
    expect(s.error?.error.code).toBe("signed_out");
    const next = run([
      { type: "started", token: 3, label: "D0003" },
      { type: "succeeded", token: 3, result: scan({ op_id: "z" }) },
    ], s);
    expect(next.error).toBeNull();
  });
});

describe("member changes", () => {
  it("a changed member replaces the one on the panel, nothing else", () => {
    const shown = run([
      { type: "started", token: 1, label: "D0181" },
      { type: "succeeded", token: 1, result: rejected("a") },
    ]);
    const renewed = run([{ type: "member_changed", member: member({ valid_until: "2027-11-30" }) }], shown);
    expect(renewed.shown?.result.member?.valid_until).toBe("2027-11-30");
    expect(renewed.shown?.result.status).toBe("rejected");
    expect(renewed.shown?.token).toBe(1);
    const other = run([{ type: "member_changed", member: member({ id: "m9" }) }], shown);
    expect(other).toBe(shown);
    expect(run([{ type: "member_changed", member: member() }])).toBe(initialResult);
  });
});

describe("soundCue", () => {
  it("yes for accepted and queued, no for rejected and unknown, nothing when unchanged", () => {
    const start = resultReducer(initialResult, { type: "started", token: 1, label: "x" });
    const yes = resultReducer(start, { type: "succeeded", token: 1, result: scan() });
    expect(soundCue(start, yes)).toBe("yes");
    const q = resultReducer(start, { type: "succeeded", token: 1, result: queued("q") });
    expect(soundCue(start, q)).toBe("yes");
    const no = resultReducer(start, { type: "succeeded", token: 1, result: scan({ status: "unknown", op_id: null }) });
    expect(soundCue(start, no)).toBe("no");
    expect(soundCue(yes, yes)).toBeNull();
    // A confirmation of what was already let in stays quiet.
    const confirmed = resultReducer(q, { type: "settled", result: accepted("q") });
    expect(soundCue(q, confirmed)).toBeNull();
  });

  it("no for a new late-rejection alert and for a failure", () => {
    const a = run([
      { type: "started", token: 1, label: "a" },
      { type: "succeeded", token: 1, result: queued("q") },
      { type: "started", token: 2, label: "b" },
      { type: "succeeded", token: 2, result: scan({ op_id: "r" }) },
    ]);
    const b = resultReducer(a, { type: "settled", result: rejected("q") });
    expect(soundCue(a, b)).toBe("no");
    const c = run([
      { type: "started", token: 3, label: "c" },
      { type: "failed", token: 3, error: { code: "server_error", message: "y" } },
    ], b);
    expect(soundCue(b, c)).toBe("no");
  });
});

describe("panel actions", () => {
  it("names the member, else the server's name, else the card", () => {
    expect(resultTitle(scan())).toBe("Ada Lovelace");
    expect(resultTitle(scan({ member: null, member_name: "Grace Hopper" }))).toBe("Grace Hopper");
    expect(resultTitle(scan({ member: null, card: "X1" }))).toBe("Card X1");
  });

  it("let in anyway needs a reason and repeats the same card", () => {
    const turnedAway = scan({ op_id: null, status: "rejected", overridable: true });
    expect(canOverride(turnedAway)).toBe(true);
    expect(overrideRequest(turnedAway, "   ")).toBeNull();
    expect(overrideRequest(turnedAway, " paid today ")).toEqual({ card: "D0001", member_id: null, override_reason: "paid today" });
    const picked = scan({ card: null, member: member({ id: "m9" }), status: "rejected", overridable: true });
    expect(overrideRequest(picked, "ok")).toEqual({ card: null, member_id: "m9", override_reason: "ok" });
    expect(canOverride(scan({ status: "rejected", overridable: false }))).toBe(false);
    expect(canOverride(scan({ status: "accepted", overridable: true }))).toBe(false);
  });

  it("check out is offered for someone let in, by card or member", () => {
    expect(canCheckOut(scan())).toBe(true);
    expect(canCheckOut(scan({ status: "rejected" }))).toBe(false);
    expect(canCheckOut(scan({ action: "check_out" }))).toBe(false);
    expect(checkOutRequest(scan())).toEqual({ card: "D0001", member_id: null, visit_id: null });
    expect(checkOutRequest(scan({ card: null }))).toEqual({ card: null, member_id: "m1", visit_id: null });
  });
});

describe("verdict", () => {
  it("tells let in, not allowed, saved offline and not recognised apart by symbol and words", () => {
    expect(verdict(scan({ status: "accepted" }), null)).toEqual({ symbol: "✓", words: "Let in" });
    expect(verdict(scan({ status: "rejected" }), null)).toEqual({ symbol: "✕", words: "Not allowed in" });
    expect(verdict(scan({ status: "queued" }), null)).toEqual({ symbol: "✓", words: "Let in, saved offline" });
    expect(verdict(scan({ status: "unknown" }), null)).toEqual({ symbol: "?", words: "Card not recognised" });
    expect(verdict(scan({ status: "accepted", action: "check_out" }), null).words).toBe("Checked out");
    expect(verdict(scan({ status: "rejected", action: "check_out" }), null).words).toBe("Not checked out");
  });

  it("uses no implementation words", () => {
    for (const status of ["accepted", "queued", "rejected", "unknown"] as const) {
      for (const action of ["check_in", "check_out"] as const) {
        expect(verdict(scan({ status, action }), null).words).not.toMatch(/queue|outbox|seq|op id/i);
      }
    }
  });

  it("is announced as one sentence: verdict, who, the reason once", () => {
    const no = scan({ status: "rejected", message: "Membership expired on 31 Oct 2026.", member: member({ name: "Ann Lee" }) });
    expect(announcement(no, null)).toBe("Not allowed in: Ann Lee. Membership expired on 31 Oct 2026.");
    const again = { ...scan({ status: "accepted", message: "" , member: member({ name: "Bo" }) }), repeated: true };
    expect(announcement(again, null)).toBe("Let in: Bo. Same card read again.");
  });
});
