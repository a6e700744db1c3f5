// One way to call the desk: every command through the generated bindings, with a thrown
// failure (no desk service, an IPC fault) turned into the same UiError shape.

import type { UiError } from "./bindings";

export type Outcome<T> = { ok: true; data: T } | { ok: false; error: UiError };

type Typed<T> = Promise<{ status: "ok"; data: T } | { status: "error"; error: UiError }>;

function thrown(e: unknown): UiError {
  const detail = e instanceof Error ? e.message : typeof e === "string" ? e : JSON.stringify(e);
  return {
    code: "internal",
    message: `The desk service did not answer (${detail}). Restart the app; if it keeps happening, call IT.`,
  };
}

/** Runs a command from `commands.*` that answers ok-or-UiError. */
export async function call<T>(command: () => Typed<T>): Promise<Outcome<T>> {
  try {
    const r = await command();
    return r.status === "ok" ? { ok: true, data: r.data } : { ok: false, error: r.error };
  } catch (e) {
    return { ok: false, error: thrown(e) };
  }
}

/** Runs a command that answers plainly (or throws). */
export async function callPlain<T>(command: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, data: await command() };
  } catch (e) {
    return { ok: false, error: thrown(e) };
  }
}
