import type { Counts, Event, OutboxEntry, ScanResult, Stats } from "../bindings";
import { describeEvent, feedLineText } from "../state/feed";
import { entryLine, unsent } from "../state/outbox";
import { resultTitle } from "../state/result";

/**
 * Live figures; each number element holds only the number (its label is a sibling).
 * Not live, they say as of when, instead of silently freezing.
 */
export function StatsTiles({ stats, asOf }: { stats: Stats | null; asOf: string | null }) {
  return (
    <section className="stats-block" aria-label="Today at this gym">
      <div className="stats">
        <div className="stat">
          <span className="stat-value" data-testid="stats-occupancy">
            {stats ? String(stats.occupancy) : ""}
          </span>
          <span className="stat-label">inside now</span>
        </div>
        <div className="stat">
          <span className="stat-value" data-testid="stats-today">
            {stats ? String(stats.today_total) : ""}
          </span>
          <span className="stat-label">check-ins today</span>
        </div>
        <div className="stat">
          <span className="stat-value" data-testid="stats-avg-stay">
            {stats ? String(Math.round(stats.avg_stay_minutes)) : ""}
          </span>
          <span className="stat-label">min average stay</span>
        </div>
      </div>
      {asOf && (
        <p className="stats-as-of" data-testid="stats-as-of">
          {asOf}
        </p>
      )}
    </section>
  );
}

export function ActivityFeed({ feed }: { feed: Event[] }) {
  return (
    <section className="panel feed" aria-label="Activity">
      <h2 className="panel-title">Activity</h2>
      <ol className="feed-list" data-testid="activity-feed">
        {feed.map((event) => {
          const line = describeEvent(event);
          return (
            <li
              key={event.seq}
              className={`feed-item feed-item--${line.tone}`}
              data-testid="activity-item"
              data-seq={String(event.seq)}
              title={feedLineText(line)}
            >
              <time className="feed-time" dateTime={event.at}>
                {line.time}
              </time>{" "}
              <span className="feed-text">{line.text}</span>
              {line.tags.map((t) => (
                <span key={t} className={`tag tag--${t.replace(/[^a-z]+/g, "-")}`}>
                  {" "}
                  {t}
                </span>
              ))}
            </li>
          );
        })}
      </ol>
      {feed.length === 0 && <p className="panel-empty">No activity yet today.</p>}
    </section>
  );
}

/** "Saved on this desk, not sent yet": only what still has to reach the server. */
export function OutboxPanel({ counts, outbox }: { counts: Counts | null; outbox: OutboxEntry[] }) {
  const waiting = counts?.pending ?? unsent(outbox).length;
  const lines = unsent(outbox).map((e) => entryLine(e));
  return (
    <section className="panel outbox" aria-label="Saved on this desk, not sent yet">
      <h2 className="panel-title">
        Saved on this desk, not sent yet:{" "}
        <span className={`outbox-count${waiting > 0 ? " outbox-count--waiting" : ""}`} data-testid="outbox-count">
          {String(waiting)}
        </span>
      </h2>
      {lines.length === 0 ? (
        <p className="panel-empty">Nothing waiting: every scan has reached the server.</p>
      ) : (
        <ul className="outbox-list">
          {lines.map((l) => (
            <li key={l.opId} className="outbox-item">
              <span className="outbox-time">{l.time}</span> <span className="outbox-who">{l.who}</span>{" "}
              <span className="outbox-what">{l.what}</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/** Late rejections of scans no longer on the result panel: loud until dismissed. */
export function LateAlerts({ alerts, onDismiss }: { alerts: ScanResult[]; onDismiss: (opId: string) => void }) {
  if (alerts.length === 0) return null;
  return (
    <section className="alerts" aria-label="Turned away by the server" role="alert">
      {alerts.map((a) => (
        <div key={a.op_id ?? a.message} className="alert">
          <span className="alert-text">
            <strong>Turned away by the server:</strong> {resultTitle(a)}
            {a.action === "check_out" ? " (check-out)" : ""} — {a.message}
          </span>
          {a.op_id && (
            <button type="button" className="btn btn-small" onClick={() => onDismiss(a.op_id ?? "")}>
              Dismiss
            </button>
          )}
        </div>
      ))}
    </section>
  );
}
