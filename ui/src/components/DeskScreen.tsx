import { useEffect, useRef } from "react";
import type { CheckInRequest, CheckOutRequest, Member } from "../bindings";
import type { DeskState } from "../state/desk";
import type { ResultState } from "../state/result";
import { useKeepFocus } from "../hooks";
import { ScanBox } from "./ScanBox";
import { ResultPanel } from "./ResultPanel";
import { ActivityFeed, OutboxPanel, StatsTiles } from "./Panels";

interface Props {
  desk: DeskState;
  result: ResultState;
  active: boolean;
  checkIn: (request: CheckInRequest, label: string) => void;
  checkOut: (request: CheckOutRequest, label: string) => void;
  dismissError: () => void;
}

export function DeskScreen({ desk, result, active, checkIn, checkOut, dismissError }: Props) {
  const inputRef = useRef<HTMLInputElement>(null);
  useKeepFocus(inputRef, active);

  // After each result (and each failure), the next scan goes to the scan field.
  const token = result.shown?.token ?? 0;
  useEffect(() => {
    const el = inputRef.current;
    const a = document.activeElement;
    if (!active || !el || a === el) return;
    if (a instanceof HTMLInputElement && a.closest(".override-form")) return;
    el.focus({ preventScroll: true });
  }, [token, result.error, active]);

  const busy = result.inFlight.length > 0 ? (result.inFlight[result.inFlight.length - 1]?.label ?? null) : null;

  const onCard = (card: string) => checkIn({ card, member_id: null, override_reason: null }, card);
  const onCheckIn = (m: Member) => checkIn({ card: null, member_id: m.id, override_reason: null }, m.name);
  const onCheckOut = (m: Member) => checkOut({ card: null, member_id: m.id, visit_id: null }, `${m.name} (check out)`);

  return (
    <div className="desk">
      <div className="desk-main">
        <ScanBox
          inputRef={inputRef}
          onCard={onCard}
          onCheckIn={onCheckIn}
          onCheckOut={onCheckOut}
          busy={busy}
          error={result.error?.error.message ?? null}
          onDismissError={dismissError}
        />
        <ResultPanel shown={result.shown} onOverride={checkIn} onCheckOut={checkOut} />
      </div>
      <aside className="desk-side">
        <StatsTiles stats={desk.stats} />
        <OutboxPanel counts={desk.counts} outbox={desk.outbox} />
        <ActivityFeed feed={desk.feed} />
      </aside>
    </div>
  );
}
