import { useEffect, useRef, useState } from "react";
import type { CheckInRequest, CheckOutRequest, Member } from "../bindings";
import { statsAsOf, type DeskState } from "../state/desk";
import type { ResultState } from "../state/result";
import { OWN_FOCUS, useKeepFocus, useReaderRouting } from "../hooks";
import { ScanBox } from "./ScanBox";
import { ResultPanel } from "./ResultPanel";
import { MemberForm } from "./MemberForm";
import { ActivityFeed, OutboxPanel, StatsTiles } from "./Panels";

interface Props {
  desk: DeskState;
  result: ResultState;
  active: boolean;
  /** The signed-in user may renew and freeze memberships. */
  manager: boolean;
  checkIn: (request: CheckInRequest, label: string) => void;
  checkOut: (request: CheckOutRequest, label: string) => void;
  dismissError: () => void;
  onMemberChanged: (member: Member) => void;
}

/** The walk-in form, open for a card (from a scan nobody has) or empty. */
interface Adding {
  card: string | null;
}

export function DeskScreen({ desk, result, active, manager, checkIn, checkOut, dismissError, onMemberChanged }: Props) {
  const inputRef = useRef<HTMLInputElement>(null);
  const [adding, setAdding] = useState<Adding | null>(null);
  useKeepFocus(inputRef, active);

  // After each result (and each failure), and when the walk-in form closes, the next
  // scan goes to the scan field; a form that is open keeps its own focus.
  const token = result.shown?.token ?? 0;
  const formOpen = adding !== null;
  useEffect(() => {
    const el = inputRef.current;
    const a = document.activeElement;
    if (!active || !el || a === el || formOpen) return;
    if (a instanceof HTMLInputElement && a.closest(`.override-form, ${OWN_FOCUS}`)) return;
    el.focus({ preventScroll: true });
  }, [token, result.error, active, formOpen]);

  const busy = result.inFlight.length > 0 ? (result.inFlight[result.inFlight.length - 1]?.label ?? null) : null;

  // A scan in the scan field means the desk is back to scanning: it closes the form.
  const onCard = (card: string) => {
    setAdding(null);
    checkIn({ card, member_id: null, override_reason: null }, card);
  };
  // A card read into the override reason (or any other field) is a scan all the same.
  useReaderRouting(inputRef, active, onCard);
  const onCheckIn = (m: Member) => {
    setAdding(null);
    checkIn({ card: null, member_id: m.id, override_reason: null }, m.name);
  };
  const onCheckOut = (m: Member) => checkOut({ card: null, member_id: m.id, visit_id: null }, `${m.name} (check out)`);

  // Saved on the server (and in the desk's member list): checked in like any scan.
  const onSaved = (m: Member) => {
    setAdding(null);
    checkIn({ card: m.card, member_id: null, override_reason: null }, m.name);
  };

  return (
    <div className="desk">
      <div className="desk-main">
        <div className="scan-row">
          <ScanBox
            inputRef={inputRef}
            onCard={onCard}
            onCheckIn={onCheckIn}
            onCheckOut={onCheckOut}
            busy={busy}
            error={result.error?.error.message ?? null}
            onDismissError={dismissError}
          />
          <button
            type="button"
            className="btn btn-big scan-add"
            data-testid="add-member"
            aria-pressed={formOpen}
            onClick={() => setAdding({ card: null })}
          >
            + Add member
          </button>
        </div>
        {adding ? (
          <MemberForm key={adding.card ?? ""} card={adding.card} onSaved={onSaved} onClose={() => setAdding(null)} />
        ) : (
          <ResultPanel
            shown={result.shown}
            onOverride={checkIn}
            onCheckOut={checkOut}
            manager={manager}
            onAddMember={(card) => setAdding({ card })}
            onMemberChanged={onMemberChanged}
          />
        )}
      </div>
      <aside className="desk-side">
        <StatsTiles stats={desk.stats} asOf={statsAsOf(desk)} />
        <OutboxPanel counts={desk.counts} outbox={desk.outbox} />
        <ActivityFeed feed={desk.feed} />
      </aside>
    </div>
  );
}
