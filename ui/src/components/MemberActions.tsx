import { useState, type FormEvent, type KeyboardEvent } from "react";
import { commands, type CheckInRequest, type Member, type ScanResult, type UiError } from "../bindings";
import { call, type Outcome } from "../api";
import { changeWords, dayOf, hasFreeze, renewalProblem, renewalSuggestion } from "../state/members";
import { resultTitle } from "../state/result";

interface Props {
  result: ScanResult;
  /** The member as changed: the panel shows them so. */
  onMemberChanged: (member: Member) => void;
  onCheckIn: (request: CheckInRequest, label: string) => void;
}

type Mode = "renew" | "freeze" | null;

/** The member on the panel: by id, else found by the card scanned (not cached yet). */
async function memberOf(result: ScanResult): Promise<Outcome<Member>> {
  if (result.member) return { ok: true, data: result.member };
  const card = result.card;
  const notFound: UiError = { code: "not_found", message: "This member cannot be found on the server; search them by name." };
  if (!card) return { ok: false, error: notFound };
  const r = await call(() => commands.searchMembers(card));
  if (!r.ok) return r;
  const member = r.data.members.find((m) => m.card === card);
  return member ? { ok: true, data: member } : { ok: false, error: notFound };
}

/** A manager's changes to the member on the result panel: renew, freeze, unfreeze. */
export function MemberActions({ result, onMemberChanged, onCheckIn }: Props) {
  const today = dayOf(new Date());
  const [mode, setMode] = useState<Mode>(null);
  const [until, setUntil] = useState("");
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const name = resultTitle(result);
  const member = result.member;

  const open = (next: Mode) => {
    setMode(next);
    setError(null);
    setDone(null);
    setReason("");
    setUntil(next === "renew" ? renewalSuggestion(member, today) : "");
  };

  const change = async (kind: "renewed" | "frozen" | "unfrozen", write: (id: string) => Promise<Outcome<Member>>) => {
    setBusy(true);
    setError(null);
    const target = await memberOf(result);
    const r = target.ok ? await write(target.data.id) : target;
    setBusy(false);
    if (!r.ok) {
      setError(r.error.message);
      return;
    }
    setMode(null);
    onMemberChanged(r.data);
    setDone(changeWords(kind, r.data));
  };

  const renew = (e: FormEvent) => {
    e.preventDefault();
    const wrong = renewalProblem(until, today);
    if (wrong) {
      setError(wrong);
      return;
    }
    void change("renewed", (id) => call(() => commands.renewMember(id, until.trim())));
  };

  const freeze = (e: FormEvent) => {
    e.preventDefault();
    const last = until.trim();
    if (last && renewalProblem(last, today)) {
      setError("Give the freeze's last day as year-month-day from today on, or leave it empty (until unfrozen).");
      return;
    }
    const why = reason.trim();
    void change("frozen", (id) => call(() => commands.freezeMember(id, last ? last : null, why ? why : null)));
  };

  const onKey = (e: KeyboardEvent) => {
    if (e.key === "Escape") {
      e.preventDefault();
      setMode(null);
      setError(null);
    }
  };

  const again: CheckInRequest | null = result.card
    ? { card: result.card, member_id: null, override_reason: null }
    : member
      ? { card: null, member_id: member.id, override_reason: null }
      : null;

  return (
    <div className="member-actions">
      {mode === null && (
        <>
          <button type="button" className="btn" data-testid="renew-member" disabled={busy} onClick={() => open("renew")}>
            Renew…
          </button>
          {hasFreeze(member, today) ? (
            <button
              type="button"
              className="btn"
              data-testid="unfreeze-member"
              disabled={busy}
              onClick={() => void change("unfrozen", (id) => call(() => commands.unfreezeMember(id)))}
            >
              Unfreeze
            </button>
          ) : (
            <button type="button" className="btn" data-testid="freeze-member" disabled={busy} onClick={() => open("freeze")}>
              Freeze…
            </button>
          )}
        </>
      )}
      {mode === "renew" && (
        <form className="member-action-form" data-testid="renew-form" data-own-focus onSubmit={renew} onKeyDown={onKey}>
          <label className="field field-inline">
            <span>Renew {name} until (year-month-day)</span>
            <input
              type="text"
              data-testid="renew-date"
              value={until}
              autoFocus
              inputMode="numeric"
              maxLength={10}
              onChange={(e) => {
                setUntil(e.target.value);
                setError(null);
              }}
            />
          </label>
          <button type="submit" className="btn btn-primary" data-testid="renew-submit" disabled={busy}>
            {busy ? "Renewing…" : "Renew"}
          </button>
          <button type="button" className="btn btn-quiet" onClick={() => setMode(null)}>
            Cancel
          </button>
        </form>
      )}
      {mode === "freeze" && (
        <form className="member-action-form" data-testid="freeze-form" data-own-focus onSubmit={freeze} onKeyDown={onKey}>
          <label className="field field-inline">
            <span>Frozen from today until (empty: until unfrozen)</span>
            <input
              type="text"
              data-testid="freeze-until"
              value={until}
              autoFocus
              placeholder="YYYY-MM-DD"
              inputMode="numeric"
              maxLength={10}
              onChange={(e) => {
                setUntil(e.target.value);
                setError(null);
              }}
            />
          </label>
          <label className="field field-inline">
            <span>Reason (optional)</span>
            <input
              type="text"
              data-testid="freeze-reason"
              value={reason}
              maxLength={200}
              placeholder="e.g. injury, holiday"
              onChange={(e) => setReason(e.target.value)}
            />
          </label>
          <button type="submit" className="btn btn-warn" data-testid="freeze-submit" disabled={busy}>
            {busy ? "Freezing…" : "Freeze"}
          </button>
          <button type="button" className="btn btn-quiet" onClick={() => setMode(null)}>
            Cancel
          </button>
        </form>
      )}
      {error && (
        <p className="field-error" role="alert" data-testid="member-action-error">
          {error}
        </p>
      )}
      {done && (
        <p className="member-action-done" data-testid="member-action-done">
          {done}{" "}
          {again && result.status === "rejected" && (
            <button
              type="button"
              className="btn btn-small btn-primary"
              data-testid="check-in-now"
              onClick={() => onCheckIn(again, name)}
            >
              Check in now
            </button>
          )}
        </p>
      )}
    </div>
  );
}
