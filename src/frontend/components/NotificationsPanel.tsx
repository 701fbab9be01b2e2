import type { NotificationStatus } from "../api/types";
import { usePoll } from "../app/usePoll";
import { ErrorView, Loading } from "./States";
import { when } from "./format";

const CLASS_TEXT: Record<string, string> = {
  rejected: "the receiver refused it",
  unreachable: "the receiver could not be reached",
  no_answer: "no answer before the attempt ran out",
};

function failureText(errorClass: string | null, status: number | null): string {
  const text = errorClass ? (CLASS_TEXT[errorClass] ?? errorClass) : "unknown";
  return status ? `${text} (HTTP ${status})` : text;
}

// Webhook notification delivery (what `autopack notify status` shows); the
// webhook appears by its origin only, failures by their class.
export function NotificationsPanel(): JSX.Element {
  const polled = usePoll<NotificationStatus>("/api/notifications", 15000);
  let content: JSX.Element;
  if (polled.loading) content = <Loading what="notification status" />;
  else if (polled.error && !polled.data) content = <ErrorView error={polled.error} />;
  else if (!polled.data) content = <p className="note">No answer.</p>;
  else {
    const s = polled.data;
    content = !s.webhook.configured ? (
      <p className="state state-empty" role="status">
        No webhook is set: nobody is told when something waits. Set <code>AUTOPACK_NOTIFY_WEBHOOK_URL</code> and{" "}
        <code>AUTOPACK_NOTIFY_SECRET</code>, then check with <code>autopack notify test</code>.
      </p>
    ) : (
      <>
        <dl className="facts" data-testid="notification-status">
          <dt>Webhook</dt>
          <dd>
            <code>{s.webhook.origin}</code> ({s.webhook.format})
          </dd>
          <dt>Pending</dt>
          <dd>
            {s.counts.pending} (in flight {s.in_flight}, retrying {s.retrying})
          </dd>
          <dt>Delivered</dt>
          <dd>{s.counts.delivered}</dd>
          <dt>Dead</dt>
          <dd>{s.counts.dead}</dd>
          <dt>Last delivery</dt>
          <dd>{when(s.last_delivered_at)}</dd>
          <dt>Last failure</dt>
          <dd>{s.last_failure ? `${failureText(s.last_failure.error_class, s.last_failure.status_code)} at ${when(s.last_failure.at)}` : "—"}</dd>
        </dl>
        {s.dead.length ? (
          <>
            <p className="note">
              Dead notifications are not sent again until a person retries them: <code>autopack notify retry --all</code>.
            </p>
            <ul aria-label="Dead notifications">
              {s.dead.map((d) => (
                <li key={d.id}>
                  <code>{d.id}</code> {d.kind} {d.subject}: {d.attempts} attempts, {failureText(d.error_class, d.status_code)}
                </li>
              ))}
            </ul>
          </>
        ) : null}
      </>
    );
  }
  return (
    <section aria-labelledby="notifications-title" className="provider-policy">
      <h3 id="notifications-title">Notifications</h3>
      {content}
    </section>
  );
}
