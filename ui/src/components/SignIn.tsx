import { useRef, useState, type FormEvent } from "react";
import { commands, type AppInfo, type GymChoice, type SessionInfo } from "../bindings";
import { firstChoice } from "../state/session";
import { call } from "../api";

interface Props {
  info: AppInfo | null;
  /** Why the app could not read its configuration or reach the desk service at start. */
  bootError: string | null;
  onSignedIn: (session: SessionInfo) => void;
}

export function SignIn({ info, bootError, onSignedIn }: Props) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  // Someone who works at several gyms, at a desk with none configured, chooses one.
  const [gyms, setGyms] = useState<GymChoice[] | null>(null);
  const [gym, setGym] = useState("");
  const [prompt, setPrompt] = useState<string | null>(null);
  const passwordRef = useRef<HTMLInputElement>(null);

  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    if (busy) return;
    // Read the fields' current values from the form itself (what is on screen).
    const form = new FormData(e.currentTarget);
    const server = String(form.get("server") ?? "").trim();
    const username = String(form.get("username") ?? "").trim();
    const password = String(form.get("password") ?? "");
    setBusy(true);
    setError(null);
    setPrompt(null);
    const location = gyms ? gym || null : null;
    const r = await call(() => commands.signIn(server, username, password, location));
    setBusy(false);
    if (r.ok) {
      onSignedIn(r.data);
      return;
    }
    const offered = r.error.gyms ?? [];
    if (r.error.code === "choose_location" && offered.length > 0) {
      // Not a failure: one more question, answered by the list below.
      setGyms(offered);
      setGym(firstChoice(offered));
      setPrompt(r.error.message);
      return;
    }
    setError(r.error.message);
    if (r.error.code === "invalid_credentials" && passwordRef.current) {
      passwordRef.current.value = "";
      passwordRef.current.focus();
    }
  };

  const configError = info?.config_error ?? null;

  return (
    <main className="signin">
      <div className="signin-card">
        <h1 className="signin-title">Frontdesk</h1>
        <p className="signin-where">
          Desk <strong>{info?.desk_id ?? "not configured"}</strong>
          {" · "}Gym <strong>{info?.location_id ?? "from your account"}</strong>
        </p>

        {configError && (
          <div className="config-error" role="alert">
            <h2>This desk's configuration needs attention</h2>
            <p className="config-error-message">{configError}</p>
            {info && info.config_files.length > 0 && (
              <p className="config-error-files">
                Configuration files (user file first): {info.config_files.join(", ")}
              </p>
            )}
            <p>Show this message to IT.</p>
          </div>
        )}
        {bootError && (
          <div className="config-error" role="alert">
            <p className="config-error-message">{bootError}</p>
          </div>
        )}

        <form className="signin-form" onSubmit={submit} noValidate>
          <label className="field">
            <span>Server address</span>
            <input
              name="server"
              type="text"
              defaultValue={info?.server ?? ""}
              autoComplete="off"
              spellCheck={false}
              placeholder="https://frontdesk.example.com:8080"
            />
          </label>
          <label className="field">
            <span>Username</span>
            <input
              name="username"
              type="text"
              data-testid="signin-username"
              autoComplete="username"
              autoFocus
              spellCheck={false}
              autoCapitalize="off"
            />
          </label>
          <label className="field">
            <span>Password</span>
            <input
              ref={passwordRef}
              name="password"
              type="password"
              data-testid="signin-password"
              autoComplete="current-password"
            />
          </label>
          {gyms && (
            <label className="field">
              <span>Gym this desk is at</span>
              <select
                name="location"
                data-testid="signin-location"
                value={gym}
                onChange={(e) => {
                  setGym(e.target.value);
                  setError(null);
                }}
              >
                {gyms.map((g) => (
                  <option key={g.id} value={g.id}>
                    {g.name}
                    {g.remembered ? " (this desk's last gym)" : ""}
                  </option>
                ))}
              </select>
            </label>
          )}
          {prompt && (
            <p className="signin-prompt" data-testid="signin-prompt" role="status">
              {prompt}
            </p>
          )}
          {error && (
            <p className="signin-error" data-testid="signin-error" role="alert">
              {error}
            </p>
          )}
          <button type="submit" className="btn btn-primary btn-big" data-testid="signin-submit" disabled={busy}>
            {busy ? "Signing in…" : "Sign in"}
          </button>
        </form>
        <p className="signin-version">Frontdesk {info?.version ?? ""}</p>
      </div>
    </main>
  );
}
