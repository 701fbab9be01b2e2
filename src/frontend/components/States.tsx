import type { ReactNode } from "react";
import type { ApiError } from "../api/client";

export function Loading({ what }: { what: string }): JSX.Element {
  return (
    <p className="state state-loading" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }): JSX.Element {
  return (
    <p className="state state-empty" role="status">
      {children}
    </p>
  );
}

// 403 is explained (what the role lacks); anything else shows the API's own message.
export function ErrorView({ error }: { error: ApiError }): JSX.Element {
  if (error.status === 403 && error.code === "forbidden") {
    const details = (error.details ?? {}) as { permission?: string; role?: string };
    return (
      <div className="state state-forbidden" role="alert">
        <h3>Not allowed for your role</h3>
        <p>{error.message}</p>
        {details.permission ? (
          <p>
            This needs the <code>{details.permission}</code> permission; your role is{" "}
            <code>{details.role ?? "unknown"}</code>. The API enforces this whatever the page shows.
          </p>
        ) : null}
      </div>
    );
  }
  return (
    <div className="state state-error" role="alert">
      <h3>{error.status ? `Error ${error.status}` : "Error"}</h3>
      <p>
        {error.message} <code>{error.code}</code>
      </p>
    </div>
  );
}
