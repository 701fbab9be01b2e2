import { createContext, useContext } from "react";
import type { Permission, Session } from "../api/types";

export interface SessionState {
  session: Session;
  // Called when any request answers 401: the session is gone, show the login.
  expired: () => void;
}

export const SessionContext = createContext<SessionState | null>(null);

export function useSession(): SessionState {
  const state = useContext(SessionContext);
  if (state === null) throw new Error("useSession outside a logged-in console");
  return state;
}

export function can(session: Session, permission: Permission): boolean {
  return session.permissions.includes(permission);
}
