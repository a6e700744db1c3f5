import { useState } from "react";
import type { AppInfo, ErrorRecord, Status } from "../bindings";
import type { DeskDetails } from "../state/desk";
import { bannerWords, retryLine, rttWords, type BannerTone } from "../state/banner";
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

/** A shape as well as a colour: tones stay apart for colour-blind staff. */
const SYMBOL: Record<BannerTone, string> = { calm: "✓", warn: "!", bad: "✕" };

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
  // What screen readers hear: the state and its meaning, once per change; never the
  // ticking countdown (it is outside the live region).
  const announced = [words.title, words.cause, words.meaning].filter(Boolean).join(". ");

  const retryNow = async () => {
    setRetrying(true);
    setRetryError(await onRetry());
    setRetrying(false);
  };

  // Second line: a retry failure, else the meaning, the one countdown and (offline) how
  // old the member list is. Always present, so the banner keeps one height.
  const second = retryError ? (
    <span className="banner-error" role="alert">
      {retryError}
    </span>
  ) : (
    <>
      {words.meaning && <span className="banner-meaning">{words.meaning}</span>}
      {retry && <span className="banner-retry"> {retry}.</span>}
      {decidingOffline && roster && (
        <span className={`banner-roster${roster.stale ? " banner-roster--stale" : ""}`}>
          {" "}
          {roster.stale ? "⚠ " : ""}
          {roster.text}
        </span>
      )}
    </>
  );

  return (
    <section
      className={`banner banner--${words.tone}`}
      aria-label="Connection"
      data-testid="connection-state"
      data-state={words.state}
    >
      <p className="sr-only" role="status">
        {announced}
      </p>
      <div className="banner-row" aria-hidden="true" title={[words.title, words.cause].filter(Boolean).join(": ")}>
        <span className={`banner-symbol banner-symbol--${words.tone}`}>{SYMBOL[words.tone]}</span>
        <strong className="banner-title">{words.title}</strong>
        {words.cause && <span className="banner-cause">{words.cause}</span>}
      </div>
      <div className="banner-actions">
        {words.canRetry ? (
          <button type="button" className="btn" data-testid="retry-now" onClick={retryNow} disabled={retrying}>
            {retrying ? "Trying…" : "Retry now"}
          </button>
        ) : null}
        <button type="button" className="btn btn-quiet" aria-expanded={open} onClick={() => setOpen((o) => !o)}>
          {open ? "Hide details" : "Details"}
        </button>
      </div>
      <p className="banner-second">{second}</p>
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
                  <time dateTime={e.at}>{clockSeconds(e.at)}</time> <span title={e.code}>{e.message}</span>
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </section>
  );
}
