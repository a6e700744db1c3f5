// Sign-in changes: which session the window shows, and when the desk's state starts over.

import type { GymChoice, SessionInfo } from "../bindings";

export interface SessionStep {
  session: SessionInfo;
  /**
   * A new sign-in (from signed out, another user, another server or gym): the screen's
   * state (feed, result panel, outbox list) starts over and is reloaded.
   */
  fresh: boolean;
}

export function nextSession(prev: SessionInfo | null, next: SessionInfo): SessionStep {
  if (!next.signed_in) return { session: next, fresh: false };
  const otherUser = Boolean(prev?.user && next.user && prev.user.id !== next.user.id);
  const otherPlace =
    Boolean(prev?.server && next.server && prev.server !== next.server) ||
    Boolean(prev?.location_id && next.location_id && prev.location_id !== next.location_id);
  const fresh = !prev?.signed_in || otherUser || otherPlace;
  // An update that does not carry the user (not known yet) keeps the one already known.
  const user = next.user ?? (fresh ? null : (prev?.user ?? null));
  return { session: { ...next, user }, fresh };
}

/** The gym offered first at sign-in: the desk's last one, else the first listed. */
export function firstChoice(gyms: readonly GymChoice[]): string {
  return (gyms.find((g) => g.remembered) ?? gyms[0])?.id ?? "";
}
