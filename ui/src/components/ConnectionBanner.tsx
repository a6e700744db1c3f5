import { useState } from "react";
import type { AppInfo, ErrorRecord, Status } from "../bindings";
import type { DeskDetails } from "../state/desk";
import { bannerWords, retryLine, rttWords } from "../state/banner";
import { rosterAge } from "../state/roster";
import { clockSeconds } from "../state/time";
import { useNow } from "../hooks";

interface Props {
  status: Status | null;
  retryAt: number | null;
  details: DeskDetails | null;
  errors: ErrorRecord[];
  info: AppInfo | null;
  onRetry: () => Promise<string | null>;
}

export function ConnectionBanner({ status, retryAt, details, errors, info, onRetry }: Props) {
  const [open, setOpen] = useState(false);
  const [retrying, setRetrying] = useState(false);
  const [retryError, setRetryError] = useState<string | null>(null);
  const words = bannerWords(status);
  const live = words.state === "live";
  const now = useNow(1000, !live || open);
  const retry = retryLine(status, retryAt, now);
  const roster = details ? rosterAge(details.roster_synced_at, details.roster_size, now) : null;
  const decidingOffline = !live && words.state !== "http_fallback";

  const retryNow = async () => {
    setRetrying(true);
    setRetryError(await onRetry());
    setRetrying(false);
  };

  return (
    <section className={`banner banner--${words.tone}`} aria-label="Connection">
      <div className="banner-row" data-testid="connection-state" data-state={words.state} role="status">
        <span className={`banner-dot banner-dot--${words.tone}`} aria-hidden="true" />
        <strong className="banner-title">{words.title}</strong>
        <span className="banner-text">
          {status?.detail && !live ? <span className="banner-detail">{status.detail} </span> : null}
          <span className="banner-meaning">{words.meaning}</span>
          {retry && <span className="banner-retry"> {retry}</span>}
        </span>
      </div>
      <div className="banner-actions">
        <button type="button" className="btn" data-testid="retry-now" onClick={retryNow} disabled={retrying}>
          {retrying ? "Trying…" : live ? "Reconnect" : "Retry now"}
        </button>
        <button type="button" className="btn btn-quiet" aria-expanded={open} onClick={() => setOpen((o) => !o)}>
          {open ? "Hide details" : "Details"}
        </button>
      </div>
      {retryError && (
        <p className="banner-error" role="alert">
          {retryError}
        </p>
      )}
      {decidingOffline && roster && (
        <p className={`banner-roster${roster.stale ? " banner-roster--stale" : ""}`}>
          {roster.stale ? "⚠ " : ""}
          {roster.text}
        </p>
      )}
      {open && (
        <div className="details" aria-label="Connection details">
          <dl className="details-grid">
            <dt>Server</dt>
            <dd>{details?.server ?? info?.server ?? "—"}</dd>
            <dt>Desk</dt>
            <dd>{details?.desk_id ?? info?.desk_id ?? "—"}</dd>
            <dt>Gym (location)</dt>
            <dd>{details?.location_id ?? info?.location_id ?? "—"}</dd>
            <dt>Connection</dt>
            <dd>
              {words.title}
              {status && status.attempt > 0 ? ` · ${status.attempt} failed attempt(s)` : ""}
            </dd>
            <dt>Round trip</dt>
            <dd>{rttWords(details?.rtt_ms)}</dd>
            <dt>Last event</dt>
            <dd>{details ? `#${details.last_seq}` : "—"}</dd>
            <dt>Member list</dt>
            <dd className={roster?.stale ? "details-warn" : undefined}>{roster?.text ?? "—"}</dd>
            <dt>App</dt>
            <dd>
              Frontdesk {info?.version ?? ""}
              {info?.data_dir ? ` · data in ${info.data_dir}` : ""}
            </dd>
          </dl>
          <h3 className="details-heading">Recent problems</h3>
          {errors.length === 0 ? (
            <p className="details-none">None.</p>
          ) : (
            <ul className="details-errors">
              {errors.map((e, i) => (
                <li key={`${e.at}-${e.code}-${i}`}>
                  <time dateTime={e.at}>{clockSeconds(e.at)}</time> <code>{e.code}</code> {e.message}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </section>
  );
}
