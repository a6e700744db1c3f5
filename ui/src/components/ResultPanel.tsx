import { useState, type FormEvent, type KeyboardEvent } from "react";
import type { CheckInRequest, CheckOutRequest, Member, ScanResult } from "../bindings";
import { canAddAsMember } from "../state/members";
import { MemberActions } from "./MemberActions";
import { writtenDate } from "../state/time";
import {
  canCheckOut,
  canOverride,
  checkOutRequest,
  overrideRequest,
  announcement,
  resultTitle,
  verdict,
  type Shown,
} from "../state/result";

interface Props {
  shown: Shown | null;
  /** A check-in: "let in anyway" (with a reason), or "check in now" after a renewal. */
  onOverride: (request: CheckInRequest, label: string) => void;
  onCheckOut: (request: CheckOutRequest, label: string) => void;
  /** The signed-in user may renew and freeze memberships (manager, admin). */
  manager: boolean;
  /** "Add as new member" for a card nobody has. */
  onAddMember: (card: string) => void;
  onMemberChanged: (member: Member) => void;
}

function initials(name: string): string {
  const parts = name.split(/\s+/).filter((p) => /^\p{L}/u.test(p));
  const letters = parts.length > 1 ? [parts[0], parts[parts.length - 1]] : parts.slice(0, 1);
  return letters.map((p) => (p ?? "").charAt(0).toUpperCase()).join("") || "?";
}

/**
 * The card and, for someone let in, until when: the reason of a turn-away is the message
 * (said once), so its dates are not repeated here.
 */
function memberMeta(result: ScanResult): string {
  const m = result.member;
  const bits: string[] = [];
  const card = result.card ?? m?.card;
  if (card) bits.push(`Card ${card}`);
  const letIn = result.status === "accepted" || result.status === "queued";
  if (m && letIn && result.action === "check_in" && m.valid_until) bits.push(`valid until ${writtenDate(m.valid_until)}`);
  return bits.join(" · ");
}

export function ResultPanel({ shown, onOverride, onCheckOut, manager, onAddMember, onMemberChanged }: Props) {
  const result = shown?.result ?? null;
  const status = result?.status;
  const said = result && shown ? verdict(result, shown.late) : null;
  return (
    <section className={`result result--${status ?? "idle"}${shown?.late === "rejected" ? " result--late" : ""}`}>
      <div
        className="result-panel"
        data-testid="scan-result"
        data-status={status}
        data-op-id={result?.op_id ?? undefined}
        data-elapsed-ms={result ? String(result.elapsed_ms) : undefined}
        data-repeated={result?.repeated ? "true" : undefined}
      >
        {result && shown ? (
          <>
            <div className="result-photo" aria-hidden="true">
              {initials(resultTitle(result))}
            </div>
            <div className="result-body">
              <p className="result-verdict">
                <span className="result-symbol" aria-hidden="true">
                  {said?.symbol}
                </span>{" "}
                {said?.words}
              </p>
              <p className="result-name">{resultTitle(result)}</p>
              <p className="result-message">{result.message}</p>
              {result.repeated && (
                <p className="result-repeated" data-testid="scan-repeated">
                  Same card read again: this is the scan from a moment ago, not a new one.
                </p>
              )}
              {shown.late === "rejected" && (
                <p className="result-late">
                  {result.action === "check_out"
                    ? "The desk recorded this check-out before the server answered, but the server has turned it away."
                    : "The desk let this member in before the server answered, but the server has now turned the visit away. Please speak to the member."}
                </p>
              )}
              {shown.late === "confirmed" && <p className="result-confirmed">Confirmed by the server.</p>}
              <p className="result-meta">{memberMeta(result)}</p>
            </div>
          </>
        ) : (
          <div className="result-body">
            <p className="result-name result-name--idle">Ready</p>
            <p className="result-message">Scan a card, or type a name or phone number.</p>
          </div>
        )}
      </div>
      <p className="sr-only" aria-live="assertive" aria-atomic="true">
        {result && shown ? announcement(result, shown.late) : ""}
      </p>
      {result && shown && (
        <ResultActions
          key={shown.token}
          result={result}
          onOverride={onOverride}
          onCheckOut={onCheckOut}
          manager={manager}
          onAddMember={onAddMember}
          onMemberChanged={onMemberChanged}
        />
      )}
    </section>
  );
}

function ResultActions({
  result,
  onOverride,
  onCheckOut,
  manager,
  onAddMember,
  onMemberChanged,
}: Omit<Props, "shown"> & { result: ScanResult }) {
  const [asking, setAsking] = useState(false);
  const [reason, setReason] = useState("");
  const [missing, setMissing] = useState(false);
  const name = resultTitle(result);
  const overridable = canOverride(result);
  const checkOut = canCheckOut(result) ? checkOutRequest(result) : null;

  const addable = canAddAsMember(result);
  // Renew or freeze whoever was scanned in (or turned away), not an unknown card.
  const manageable = manager && result.action === "check_in" && !addable && Boolean(result.member ?? result.card);

  if (!overridable && !checkOut && !addable && !manageable) return null;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const request = overrideRequest(result, reason);
    if (!request) {
      setMissing(true);
      return;
    }
    setAsking(false);
    onOverride(request, `${name} (let in anyway)`);
  };
  const onKey = (e: KeyboardEvent) => {
    if (e.key === "Escape") {
      e.preventDefault();
      setAsking(false);
    }
  };

  return (
    <div className="result-actions">
      {overridable && !asking && (
        <button type="button" className="btn btn-warn" data-testid="let-in-anyway" onClick={() => setAsking(true)}>
          Let in anyway…
        </button>
      )}
      {overridable && asking && (
        <form className="override-form" onSubmit={submit} onKeyDown={onKey}>
          <label className="field field-inline">
            <span>Why let {name} in? (required)</span>
            <input
              type="text"
              data-testid="override-reason"
              value={reason}
              autoFocus
              maxLength={200}
              aria-invalid={missing}
              onChange={(e) => {
                setReason(e.target.value);
                setMissing(false);
              }}
              placeholder="e.g. renewed at the counter today"
            />
          </label>
          <button type="submit" className="btn btn-warn" data-testid="override-submit">
            Let in
          </button>
          <button type="button" className="btn btn-quiet" onClick={() => setAsking(false)}>
            Cancel
          </button>
          {missing && (
            <p className="field-error" role="alert">
              Give a reason: it is recorded with the visit for the manager.
            </p>
          )}
        </form>
      )}
      {addable && !asking && result.card && (
        <button
          type="button"
          className="btn btn-primary"
          data-testid="add-scanned-member"
          onClick={() => onAddMember(result.card ?? "")}
        >
          Add as new member…
        </button>
      )}
      {manageable && !asking && <MemberActions result={result} onMemberChanged={onMemberChanged} onCheckIn={onOverride} />}
      {checkOut && !asking && (
        <button type="button" className="btn" onClick={() => onCheckOut(checkOut, `${name} (check out)`)}>
          Check out {name}
        </button>
      )}
    </div>
  );
}
