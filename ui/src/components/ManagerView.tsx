import { useEffect, useMemo, useRef, useState } from "react";
import { commands, type CheckOutRequest, type ManagerOverview, type ReviewDecision, type Visit } from "../bindings";
import { call } from "../api";
import { coalesce } from "../state/coalesce";
import {
  awaitingReview,
  deskLine,
  deskRowAttrs,
  reviewReason,
  sortDesks,
  visitFlags,
  visitStay,
  visitWho,
} from "../state/manager";
import { clock } from "../state/time";
import { useNow } from "../hooks";

export const MANAGER_REFRESH_MS = 5000;

interface Props {
  /** Changes with every server event (a check-in anywhere refreshes the view). */
  eventTick: number;
  checkOut: (request: CheckOutRequest, label: string) => Promise<boolean>;
}

export function ManagerView({ eventTick, checkOut }: Props) {
  const [overview, setOverview] = useState<ManagerOverview | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loadedAt, setLoadedAt] = useState<number | null>(null);
  const mounted = useRef(true);
  const now = useNow(5000);

  const refresh = useMemo(
    () =>
      coalesce(async () => {
        const r = await call(() => commands.managerOverview());
        if (!mounted.current) return;
        if (r.ok) {
          setOverview(r.data);
          setError(null);
          setLoadedAt(Date.now());
        } else {
          setError(r.error.message);
        }
      }),
    [],
  );

  useEffect(() => {
    mounted.current = true;
    refresh();
    const id = window.setInterval(refresh, MANAGER_REFRESH_MS);
    return () => {
      mounted.current = false;
      window.clearInterval(id);
    };
  }, [refresh]);

  useEffect(() => {
    if (eventTick > 0) refresh();
  }, [eventTick, refresh]);

  const desks = overview ? sortDesks(overview.desks) : [];
  const review = overview ? awaitingReview(overview.visits) : [];
  const visits = overview?.visits ?? [];

  return (
    <main className="manager">
      {error && (
        <p className="manager-error" role="alert">
          {error}
        </p>
      )}
      <section className="panel">
        <h2 className="panel-title">
          Desks{" "}
          {loadedAt && <span className="panel-note">updated {clock(new Date(loadedAt).toISOString())}</span>}
        </h2>
        {overview?.desks_error && <p className="manager-error">{overview.desks_error}</p>}
        <table className="table desks">
          <thead>
            <tr>
              <th>Desk</th>
              <th>Status</th>
              <th>Link</th>
              <th>Waiting to send</th>
              <th>Signed in</th>
              <th>Last seen</th>
            </tr>
          </thead>
          <tbody data-testid="manager-desks">
            {desks.map((d) => {
              const line = deskLine(d, now);
              return (
                <tr key={d.desk_id} data-testid="desk-row" {...deskRowAttrs(d)} className={d.online ? "desk-online" : "desk-offline"}>
                  <td className="desk-id">{line.id}</td>
                  <td>
                    <span className={`tag ${d.online ? "tag--accepted" : "tag--rejected"}`}>{line.status}</span>
                  </td>
                  <td>{line.transport}</td>
                  <td className={d.queued ? "desk-queued" : undefined}>{line.queued}</td>
                  <td>{line.user}</td>
                  <td>{line.lastSeen}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
        {overview && desks.length === 0 && !overview.desks_error && <p className="panel-empty">No desks seen today.</p>}
      </section>

      <section className="panel">
        <h2 className="panel-title">Needs review ({review.length})</h2>
        {review.length === 0 ? (
          <p className="panel-empty">Nothing waits for a decision.</p>
        ) : (
          <ul className="review-list">
            {review.map((v) => (
              <ReviewItem key={v.id} visit={v} onDone={refresh} />
            ))}
          </ul>
        )}
      </section>

      <section className="panel">
        <h2 className="panel-title">Today ({visits.length} visits)</h2>
        <table className="table history">
          <thead>
            <tr>
              <th>In</th>
              <th>Out</th>
              <th>Member</th>
              <th>Desk</th>
              <th>Stay</th>
              <th>Notes</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {visits.map((v) => (
              <tr key={v.id} className={v.voided ? "visit-voided" : undefined}>
                <td>{clock(v.checked_in_at)}</td>
                <td>{clock(v.checked_out_at)}</td>
                <td>{visitWho(v)}</td>
                <td>{v.desk_id}</td>
                <td>{visitStay(v, now)}</td>
                <td>
                  {visitFlags(v).map((f) => (
                    <span key={f} className={`tag tag--${f.replace(/[^a-z]+/g, "-")}`}>
                      {f}
                    </span>
                  ))}
                </td>
                <td>
                  {!v.checked_out_at && !v.voided && (
                    <button
                      type="button"
                      className="btn btn-small btn-quiet"
                      onClick={async () => {
                        await checkOut({ card: null, member_id: null, visit_id: v.id }, `${visitWho(v)} (check out)`);
                        refresh();
                      }}
                    >
                      Check out
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </main>
  );
}

function ReviewItem({ visit, onDone }: { visit: Visit; onDone: () => void }) {
  const [note, setNote] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const decide = async (decision: ReviewDecision) => {
    setBusy(true);
    setError(null);
    const text = note.trim();
    const r = await call(() => commands.review(visit.id, decision, text ? text : null));
    setBusy(false);
    if (!r.ok) setError(r.error.message);
    onDone();
  };

  return (
    <li className="review-item" data-testid="review-item" data-check-in-id={visit.id}>
      <div className="review-who">
        <strong>{visitWho(visit)}</strong> in at {clock(visit.checked_in_at)} at {visit.desk_id}
        {visit.scanned_by ? `, scanned by ${visit.scanned_by}` : ""}
      </div>
      <div className="review-why">{reviewReason(visit)}</div>
      <div className="review-actions">
        <input
          type="text"
          className="review-note"
          placeholder="Note (optional)"
          aria-label={`Note on ${visitWho(visit)}'s visit`}
          value={note}
          maxLength={200}
          onChange={(e) => setNote(e.target.value)}
        />
        <button type="button" className="btn" data-testid="review-keep" disabled={busy} onClick={() => decide("keep")}>
          Keep
        </button>
        <button
          type="button"
          className="btn btn-danger"
          data-testid="review-void"
          disabled={busy}
          onClick={() => decide("void")}
        >
          Void
        </button>
      </div>
      {error && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
    </li>
  );
}
