import { useCallback, useEffect, useMemo, useReducer, useRef, useState } from "react";
import {
  commands,
  events,
  type AppInfo,
  type CheckInRequest,
  type CheckOutRequest,
  type DeskUpdate,
  type ScanResult,
  type SessionInfo,
  type UiError,
} from "./bindings";
import { call, callPlain } from "./api";
import { play } from "./audio";
import { coalesce } from "./state/coalesce";
import { deskReducer, initialDesk, wantsSnapshot } from "./state/desk";
import { canManage, roleWords } from "./state/manager";
import { initialResult, resultReducer, soundCue, type ResultState } from "./state/result";
import { nextSession } from "./state/session";
import { SignIn } from "./components/SignIn";
import { DeskScreen } from "./components/DeskScreen";
import { ManagerView } from "./components/ManagerView";
import { AdminView } from "./components/AdminView";
import { ConnectionBanner } from "./components/ConnectionBanner";
import { LateAlerts } from "./components/Panels";

type View = "desk" | "manager" | "admin";

export function App() {
  const [booted, setBooted] = useState(false);
  const [bootError, setBootError] = useState<string | null>(null);
  const [info, setInfo] = useState<AppInfo | null>(null);
  const [session, setSessionState] = useState<SessionInfo | null>(null);
  const [view, setView] = useState<View>("desk");
  const [eventTick, setEventTick] = useState(0);
  const [desk, dispatchDesk] = useReducer(deskReducer, initialDesk);
  const [result, dispatchResult] = useReducer(resultReducer, initialResult);

  const sessionRef = useRef<SessionInfo | null>(null);
  const deskRef = useRef(desk);
  deskRef.current = desk;

  const refreshSnapshot = useMemo(
    () =>
      coalesce(async () => {
        if (!sessionRef.current?.signed_in) return;
        const versions = deskRef.current.versions;
        const r = await call(() => commands.snapshot());
        if (r.ok) dispatchDesk({ type: "snapshot", snapshot: r.data, versions, now: Date.now() });
      }),
    [],
  );

  /** Takes a session from the desk (sign-in, an update, a re-read) and shows what follows. */
  const applySession = useCallback(
    (next: SessionInfo) => {
      const step = nextSession(sessionRef.current, next);
      sessionRef.current = step.session;
      setSessionState(step.session);
      if (step.fresh) {
        dispatchDesk({ type: "reset" });
        dispatchResult({ type: "reset" });
        setView("desk");
      }
      if (step.session.signed_in) refreshSnapshot();
    },
    [refreshSnapshot],
  );

  const onUpdate = useCallback(
    (update: DeskUpdate) => {
      dispatchDesk({ type: "update", update, now: Date.now() });
      switch (update.kind) {
        case "settled":
          dispatchResult({ type: "settled", result: update.result });
          break;
        case "session":
          applySession(update.session);
          break;
        case "server_event":
          setEventTick((t) => t + 1);
          // A member changed (here or at another desk): the panel shows them as now.
          if (update.event.kind === "member_updated" && update.event.member) {
            dispatchResult({ type: "member_changed", member: update.event.member });
          }
          break;
        case "status": {
          // A kept sign-in may not know the user yet when the app starts: ask again.
          const s = sessionRef.current;
          if (s?.signed_in && !s.user && update.status.state === "live") {
            void call(() => commands.session()).then((r) => r.ok && applySession(r.data));
          }
          break;
        }
        default:
          break;
      }
      if (wantsSnapshot(update)) refreshSnapshot();
    },
    [applySession, refreshSnapshot],
  );

  // Listen first, then read the configuration and the sign-in: no update is missed.
  useEffect(() => {
    let cancelled = false;
    let unlisten: (() => void) | null = null;
    const boot = async () => {
      try {
        const stop = await events.deskUpdate.listen((e) => onUpdate(e.payload));
        if (cancelled) stop();
        else unlisten = stop;
      } catch (e) {
        if (!cancelled) setBootError(`This window could not follow the desk (${String(e)}). Restart the app.`);
      }
      const [infoR, sessionR] = await Promise.all([
        callPlain(() => commands.appInfo()),
        call(() => commands.session()),
      ]);
      if (cancelled) return;
      if (infoR.ok) setInfo(infoR.data);
      else setBootError(infoR.error.message);
      if (sessionR.ok) applySession(sessionR.data);
      else if (!infoR.ok) setBootError(sessionR.error.message);
      setBooted(true);
    };
    void boot();
    return () => {
      cancelled = true;
      unlisten?.();
    };
  }, [onUpdate, applySession]);

  // Sounds: a new verdict, a late rejection, a failed scan.
  const prevResult = useRef<ResultState>(result);
  useEffect(() => {
    play(soundCue(prevResult.current, result));
    prevResult.current = result;
  }, [result]);

  const tokenRef = useRef(0);
  const runScan = useCallback(
    async (label: string, command: () => ReturnType<typeof commands.checkIn>): Promise<boolean> => {
      const token = ++tokenRef.current;
      dispatchResult({ type: "started", token, label });
      const r = await call<ScanResult>(command);
      if (r.ok) {
        dispatchResult({ type: "succeeded", token, result: r.data });
        return true;
      }
      dispatchResult({ type: "failed", token, error: r.error });
      if (r.error.code === "signed_out") {
        void call(() => commands.session()).then((s) => s.ok && applySession(s.data));
      }
      return false;
    },
    [applySession],
  );
  const checkIn = useCallback(
    (request: CheckInRequest, label: string) => runScan(label, () => commands.checkIn(request)),
    [runScan],
  );
  const checkOut = useCallback(
    (request: CheckOutRequest, label: string) => runScan(label, () => commands.checkOut(request)),
    [runScan],
  );

  const retryNow = useCallback(async (): Promise<string | null> => {
    const r = await call(() => commands.retryNow());
    return r.ok ? null : r.error.message;
  }, []);

  const [signOutError, setSignOutError] = useState<UiError | null>(null);
  const signOut = async () => {
    setSignOutError(null);
    const r = await call(() => commands.signOut());
    if (r.ok) applySession(r.data);
    else setSignOutError(r.error);
  };

  if (!booted) {
    return (
      <main className="booting">
        <p>Starting Frontdesk…</p>
      </main>
    );
  }

  if (!session?.signed_in) {
    return <SignIn info={info} bootError={bootError} onSignedIn={applySession} />;
  }

  const user = session.user;
  const manager = canManage(user);
  const shownView: View = manager ? view : "desk";

  return (
    <div className="app">
      <header className="topbar">
        <span className="brand">Frontdesk</span>
        <span className="topbar-where">
          Desk <strong>{desk.details?.desk_id ?? info?.desk_id ?? "—"}</strong> · Gym{" "}
          <strong>{desk.details?.location_id ?? session.location_id ?? "—"}</strong>
        </span>
        {manager && (
          <nav className="tabs" aria-label="Views">
            <button
              type="button"
              className={`tab${shownView === "desk" ? " tab--on" : ""}`}
              aria-pressed={shownView === "desk"}
              data-testid="nav-desk"
              onClick={() => setView("desk")}
            >
              Front desk
            </button>
            <button
              type="button"
              className={`tab${shownView === "manager" ? " tab--on" : ""}`}
              aria-pressed={shownView === "manager"}
              data-testid="nav-manager"
              onClick={() => setView("manager")}
            >
              Manager
            </button>
            <button
              type="button"
              className={`tab${shownView === "admin" ? " tab--on" : ""}`}
              aria-pressed={shownView === "admin"}
              data-testid="nav-admin"
              onClick={() => setView("admin")}
            >
              Staff &amp; gyms
            </button>
          </nav>
        )}
        <span className="topbar-user">
          {user ? (
            <>
              <strong>{user.name}</strong> <span className="role">{roleWords(user.role)}</span>
            </>
          ) : (
            "Signed in"
          )}
        </span>
        <button type="button" className="btn btn-quiet" data-testid="sign-out" onClick={signOut}>
          Sign out
        </button>
      </header>
      {signOutError && (
        <p className="topbar-error" role="alert">
          {signOutError.message}
        </p>
      )}
      <ConnectionBanner
        status={desk.status}
        retryAt={desk.retryAt}
        details={desk.details}
        errors={desk.errors}
        info={info}
        onRetry={retryNow}
      />
      <LateAlerts alerts={result.alerts} onDismiss={(opId) => dispatchResult({ type: "dismiss_alert", opId })} />
      {shownView === "desk" ? (
        <DeskScreen
          desk={desk}
          result={result}
          active={shownView === "desk"}
          manager={manager}
          checkIn={checkIn}
          checkOut={checkOut}
          dismissError={() => dispatchResult({ type: "dismiss_error" })}
          onMemberChanged={(member) => dispatchResult({ type: "member_changed", member })}
        />
      ) : shownView === "manager" ? (
        <ManagerView eventTick={eventTick} checkOut={checkOut} />
      ) : (
        <AdminView me={user} gym={desk.details?.location_id ?? session.location_id ?? null} />
      )}
    </div>
  );
}
