import { useEffect, useRef, useState, type FormEvent, type KeyboardEvent, type RefObject } from "react";
import { commands, type Member, type SearchResult } from "../bindings";
import { call } from "../api";
import {
  enterAction,
  Latest,
  memberDetail,
  moveHighlight,
  searchable,
  SEARCH_DEBOUNCE_MS,
} from "../state/scan";
import { ReaderBurst } from "../state/reader";

interface Props {
  inputRef: RefObject<HTMLInputElement | null>;
  onCard: (card: string) => void;
  onCheckIn: (member: Member) => void;
  onCheckOut: (member: Member) => void;
  /** What is being checked right now ("D0002"), if anything. */
  busy: string | null;
  error: string | null;
  onDismissError: () => void;
}

interface Found extends SearchResult {
  query: string;
}

export function ScanBox({ inputRef, onCard, onCheckIn, onCheckOut, busy, error, onDismissError }: Props) {
  const [found, setFound] = useState<Found | null>(null);
  const [highlight, setHighlight] = useState(-1);
  const [searching, setSearching] = useState(false);
  const [searchError, setSearchError] = useState<string | null>(null);
  // Mirrors of the state for the key handler, which must act on what is current.
  const foundRef = useRef<Found | null>(null);
  const highlightRef = useRef(-1);
  const latest = useRef(new Latest());
  const reader = useRef(new ReaderBurst());
  const [hint, setHint] = useState<string | null>(null);
  const timer = useRef<number | undefined>(undefined);

  const show = (f: Found | null) => {
    foundRef.current = f;
    setFound(f);
  };
  const pick = (n: number) => {
    highlightRef.current = n;
    setHighlight(n);
  };

  const stopSearch = () => {
    window.clearTimeout(timer.current);
    latest.current.cancel();
    setSearching(false);
  };
  const clearAll = () => {
    stopSearch();
    show(null);
    pick(-1);
    setSearchError(null);
  };

  useEffect(() => () => window.clearTimeout(timer.current), []);

  const onInput = (e: FormEvent<HTMLInputElement>) => {
    const value = e.currentTarget.value;
    stopSearch();
    if (highlightRef.current !== -1) pick(-1);
    if (!searchable(value)) {
      if (foundRef.current) show(null);
      setSearchError(null);
      return;
    }
    timer.current = window.setTimeout(async () => {
      const n = latest.current.next();
      setSearching(true);
      const query = value.trim();
      const r = await call(() => commands.searchMembers(query));
      if (!latest.current.isLatest(n)) return;
      setSearching(false);
      if (r.ok) {
        show({ ...r.data, query });
        setSearchError(null);
      } else {
        show(null);
        setSearchError(r.error.message);
      }
    }, SEARCH_DEBOUNCE_MS);
  };

  const onKeyDown = (e: KeyboardEvent<HTMLInputElement>) => {
    const input = e.currentTarget;
    const burst = reader.current.key(e.key, e.timeStamp, input.value);
    if (hint && e.key !== "Enter") setHint(null);
    switch (e.key) {
      case "Enter": {
        e.preventDefault();
        // A card reader types at full speed: use what is in the field now, and empty it
        // at once so the next scan starts clean. A card read into a half-typed name is
        // the card alone.
        const value = input.value;
        const action =
          burst.kind === "card"
            ? { kind: "card" as const, card: burst.card }
            : enterAction(value, highlightRef.current, foundRef.current);
        if (action?.kind === "choose") {
          setHint(`${action.count} members found: pick one with ↑ ↓, then Enter, or click Check in.`);
          return;
        }
        input.value = "";
        clearAll();
        setHint(null);
        if (action?.kind === "card") onCard(action.card);
        else if (action?.kind === "member") onCheckIn(action.member);
        return;
      }
      case "ArrowDown":
      case "ArrowUp": {
        const count = foundRef.current?.members.length ?? 0;
        if (count === 0) return;
        e.preventDefault();
        pick(moveHighlight(highlightRef.current, count, e.key === "ArrowDown" ? 1 : -1));
        return;
      }
      case "Escape": {
        e.preventDefault();
        input.value = "";
        clearAll();
        if (error) onDismissError();
        return;
      }
    }
  };

  const act = (f: (m: Member) => void, m: Member) => {
    const input = inputRef.current;
    if (input) input.value = "";
    clearAll();
    f(m);
  };

  const members = found?.members ?? [];
  const picked = highlight >= 0 ? members[highlight] : undefined;
  const activeId = picked ? `member-${picked.id}` : undefined;

  return (
    <div className="scan">
      <label className="scan-label" htmlFor="scan-input">
        Scan a card, or type a name or phone number
      </label>
      <div className="scan-field">
        <input
          ref={inputRef}
          id="scan-input"
          className="scan-input"
          data-testid="scan-input"
          type="text"
          autoFocus
          autoComplete="off"
          autoCorrect="off"
          autoCapitalize="off"
          spellCheck={false}
          role="combobox"
          aria-expanded={found !== null}
          aria-controls="scan-results"
          aria-activedescendant={activeId}
          onInput={onInput}
          onKeyDown={onKeyDown}
        />
        {found !== null && (
          <div className="scan-results" id="scan-results">
            <p className="scan-results-head">
              {members.length === 0 ? `Nobody found for "${found.query}".` : "↑ ↓ to pick · Enter checks in · Esc clears"}
              {found.from_cache && <span className="scan-cache"> From cache (offline): the server could not answer.</span>}
            </p>
            <ul role="listbox" aria-label="Members found">
              {members.map((m, i) => (
                <li
                  key={m.id}
                  id={`member-${m.id}`}
                  role="option"
                  aria-selected={i === highlight}
                  className={`scan-member${i === highlight ? " scan-member--picked" : ""}`}
                >
                  <span className="scan-member-name">{m.name}</span>
                  <span className={`scan-member-detail status-${m.status}`}>{memberDetail(m)}</span>
                  <span className="scan-member-actions">
                    <button type="button" className="btn btn-small" onClick={() => act(onCheckIn, m)}>
                      Check in
                    </button>
                    <button type="button" className="btn btn-small btn-quiet" onClick={() => act(onCheckOut, m)}>
                      Check out
                    </button>
                  </span>
                </li>
              ))}
            </ul>
          </div>
        )}
      </div>
      <div className="scan-status" aria-live="polite">
        {busy ? <span className="scan-busy">Checking {busy}…</span> : searching ? <span>Searching…</span> : null}
        {searchError && <span className="scan-search-error">{searchError}</span>}
        {hint && (
          <span className="scan-hint" data-testid="scan-hint">
            {hint}
          </span>
        )}
        {error && (
          <span className="scan-error" role="alert">
            {error}{" "}
            <button type="button" className="btn btn-small btn-quiet" onClick={onDismissError}>
              OK
            </button>
          </span>
        )}
      </div>
    </div>
  );
}
