import { useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import { commands, type Location, type UserInfo, type UserSummary } from "../bindings";
import { call } from "../api";
import { coalesce } from "../state/coalesce";
import {
  emptyStaffForm,
  grantableRoles,
  gymNames,
  mayManage,
  sortUsers,
  staffFormProblem,
  staffRequest,
  toggleGym,
  type StaffForm,
} from "../state/admin";
import { roleWords } from "../state/manager";

interface Props {
  me: UserInfo | null;
  /** The gym this desk works for: ticked first for a new account. */
  gym: string | null;
}

/** Staff accounts and gyms (managers and admins): who may sign in where, and each gym's settings. */
export function AdminView({ me, gym }: Props) {
  const [users, setUsers] = useState<UserSummary[] | null>(null);
  const [locations, setLocations] = useState<Location[] | null>(null);
  const [usersError, setUsersError] = useState<string | null>(null);
  const [locationsError, setLocationsError] = useState<string | null>(null);
  const mounted = useRef(true);

  const refresh = useMemo(
    () =>
      coalesce(async () => {
        const [u, l] = await Promise.all([call(() => commands.users()), call(() => commands.locations())]);
        if (!mounted.current) return;
        if (u.ok) setUsers(u.data);
        setUsersError(u.ok ? null : u.error.message);
        if (l.ok) setLocations(l.data);
        setLocationsError(l.ok ? null : l.error.message);
      }),
    [],
  );

  useEffect(() => {
    mounted.current = true;
    refresh();
    return () => {
      mounted.current = false;
    };
  }, [refresh]);

  const gyms = locations ?? [];

  return (
    <main className="manager admin">
      <section className="panel">
        <h2 className="panel-title">Staff ({users?.length ?? "…"})</h2>
        {usersError && (
          <p className="manager-error" role="alert">
            {usersError}
          </p>
        )}
        <table className="table">
          <thead>
            <tr>
              <th>Username</th>
              <th>Name</th>
              <th>Role</th>
              <th>Gyms</th>
              <th>Access</th>
              <th />
            </tr>
          </thead>
          <tbody data-testid="admin-users">
            {sortUsers(users ?? []).map((u) => (
              <UserRow key={u.id} user={u} gyms={gyms} manageable={mayManage(me, u)} onChanged={refresh} />
            ))}
          </tbody>
        </table>
        {users && users.length === 0 && <p className="panel-empty">No staff accounts you may see.</p>}
      </section>

      <NewUserForm me={me} gyms={gyms} gym={gym} onCreated={refresh} />

      <section className="panel">
        <h2 className="panel-title">Gyms ({locations?.length ?? "…"})</h2>
        {locationsError && (
          <p className="manager-error" role="alert">
            {locationsError}
          </p>
        )}
        <table className="table">
          <thead>
            <tr>
              <th>Id</th>
              <th>Name</th>
              <th>Capacity</th>
              <th>Time zone</th>
              <th>Maximum stay</th>
              <th>Members of other gyms</th>
            </tr>
          </thead>
          <tbody data-testid="admin-locations">
            {gyms.map((l) => (
              <tr key={l.id} data-testid="admin-location-row" data-location-id={l.id}>
                <td className="desk-id">{l.id}</td>
                <td>{l.name}</td>
                <td>{l.capacity}</td>
                <td>{l.time_zone}</td>
                <td>{Math.round(l.max_stay_minutes / 60)} h</td>
                <td>{l.admits_other_gyms ? "admitted" : "turned away (home gym only)"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </main>
  );
}

function UserRow({
  user,
  gyms,
  manageable,
  onChanged,
}: {
  user: UserSummary;
  gyms: Location[];
  manageable: boolean;
  onChanged: () => void;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [resetting, setResetting] = useState(false);
  const [password, setPassword] = useState("");
  const [note, setNote] = useState<string | null>(null);

  const toggle = async () => {
    setBusy(true);
    setError(null);
    const r = await call(() => commands.setUserDisabled(user.id, !user.disabled));
    setBusy(false);
    if (!r.ok) setError(r.error.message);
    onChanged();
  };

  const reset = async (e: FormEvent) => {
    e.preventDefault();
    if (password.length < 8) {
      setError("Choose a password of at least 8 characters.");
      return;
    }
    setBusy(true);
    setError(null);
    const r = await call(() => commands.resetPassword(user.id, password));
    setBusy(false);
    if (!r.ok) {
      setError(r.error.message);
      return;
    }
    setResetting(false);
    setPassword("");
    setNote(`Password set. ${user.name} is signed out of every device and signs in with the new one.`);
  };

  return (
    <tr
      data-testid="admin-user-row"
      data-username={user.username}
      data-disabled={user.disabled ? "true" : "false"}
      className={user.disabled ? "desk-offline" : undefined}
    >
      <td className="desk-id">{user.username}</td>
      <td>{user.name}</td>
      <td>{roleWords(user.role)}</td>
      <td>{gymNames(user.locations, gyms)}</td>
      <td>
        <span className={`tag ${user.disabled ? "tag--rejected" : "tag--accepted"}`}>
          {user.disabled ? "disabled" : "can sign in"}
        </span>
      </td>
      <td>
        {manageable && (
          <div className="admin-user-actions">
            <button type="button" className="btn btn-small" data-testid="user-toggle-disabled" disabled={busy} onClick={toggle}>
              {user.disabled ? "Enable" : "Disable"}
            </button>
            {!resetting ? (
              <button type="button" className="btn btn-small btn-quiet" disabled={busy} onClick={() => setResetting(true)}>
                New password…
              </button>
            ) : (
              <form className="admin-reset" onSubmit={reset}>
                <input
                  type="password"
                  aria-label={`New password for ${user.username}`}
                  value={password}
                  autoFocus
                  autoComplete="new-password"
                  onChange={(e) => setPassword(e.target.value)}
                />
                <button type="submit" className="btn btn-small" disabled={busy}>
                  Set
                </button>
                <button type="button" className="btn btn-small btn-quiet" onClick={() => setResetting(false)}>
                  Cancel
                </button>
              </form>
            )}
          </div>
        )}
        {error && (
          <p className="field-error" role="alert">
            {error}
          </p>
        )}
        {note && <p className="admin-note">{note}</p>}
      </td>
    </tr>
  );
}

function NewUserForm({
  me,
  gyms,
  gym,
  onCreated,
}: {
  me: UserInfo | null;
  gyms: Location[];
  gym: string | null;
  onCreated: () => void;
}) {
  const roles = grantableRoles(me);
  const [form, setForm] = useState<StaffForm>(() => emptyStaffForm(gym));
  const [problem, setProblem] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // A manager gives access to their own gyms only; an admin to any.
  const offered = me?.role === "admin" ? gyms : gyms.filter((g) => me?.locations.includes(g.id));

  if (roles.length === 0) return null;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const wrong = staffFormProblem(form);
    if (wrong) {
      setProblem(wrong);
      return;
    }
    setBusy(true);
    setProblem(null);
    const r = await call(() => commands.createUser(staffRequest(form)));
    setBusy(false);
    if (!r.ok) {
      setProblem(r.error.message);
      return;
    }
    setDone(`${r.data.name} can now sign in as "${r.data.username}".`);
    setForm(emptyStaffForm(gym));
    onCreated();
  };

  const edit = (patch: Partial<StaffForm>) => {
    setForm((f) => ({ ...f, ...patch }));
    setProblem(null);
    setDone(null);
  };

  return (
    <section className="panel">
      <h2 className="panel-title">Add a staff account</h2>
      <form className="admin-new-user" data-testid="new-user-form" onSubmit={submit}>
        <label className="field">
          <span>Username</span>
          <input
            type="text"
            data-testid="new-user-username"
            value={form.username}
            autoComplete="off"
            spellCheck={false}
            onChange={(e) => edit({ username: e.target.value })}
          />
        </label>
        <label className="field">
          <span>Name</span>
          <input type="text" data-testid="new-user-name" value={form.name} autoComplete="off" onChange={(e) => edit({ name: e.target.value })} />
        </label>
        <label className="field">
          <span>Role</span>
          <select
            data-testid="new-user-role"
            value={form.role}
            onChange={(e) => edit({ role: e.target.value as StaffForm["role"] })}
          >
            {roles.map((r) => (
              <option key={r} value={r}>
                {roleWords(r)}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span>First password (at least 8 characters)</span>
          <input
            type="password"
            data-testid="new-user-password"
            value={form.password}
            autoComplete="new-password"
            onChange={(e) => edit({ password: e.target.value })}
          />
        </label>
        <fieldset className="admin-gyms">
          <legend>Works at</legend>
          {offered.map((g) => (
            <label key={g.id} className="admin-gym">
              <input
                type="checkbox"
                data-testid="new-user-gym"
                data-location-id={g.id}
                checked={form.locations.includes(g.id)}
                onChange={() => edit({ locations: toggleGym(form, g.id).locations })}
              />{" "}
              {g.name}
            </label>
          ))}
        </fieldset>
        <div className="admin-new-user-actions">
          <button type="submit" className="btn btn-primary" data-testid="new-user-submit" disabled={busy}>
            {busy ? "Adding…" : "Add account"}
          </button>
        </div>
        {problem && (
          <p className="field-error" role="alert" data-testid="new-user-error">
            {problem}
          </p>
        )}
        {done && <p className="admin-note">{done}</p>}
      </form>
    </section>
  );
}
