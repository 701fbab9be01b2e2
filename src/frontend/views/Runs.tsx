import { useEffect, useState } from "react";
import { ApiError, getJson, query, send } from "../api/client";
import type { Brief, Handoff, Run } from "../api/types";
import { can, useSession } from "../app/session";
import { usePoll } from "../app/usePoll";
import { Empty, ErrorView, Loading } from "../components/States";
import { pretty, when } from "../components/format";

export const RUNS_LIMIT = 100;
const TASKS = ["research", "plan", "review"] as const;

function texts(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

function Notes({ title, items, none }: { title: string; items: string[]; none: string }): JSX.Element {
  return (
    <>
      <h5>{title}</h5>
      {items.length ? (
        <ul>
          {items.map((item) => (
            <li key={item}>{item}</li>
          ))}
        </ul>
      ) : (
        <p className="note">{none}</p>
      )}
    </>
  );
}

function ContextView({ context, runId }: { context: Handoff["context"]; runId: string }): JSX.Element {
  if (context === null) {
    return (
      <Empty>
        No handoff context yet: <code>autopack handoff context {runId}</code> writes it from the run's artifacts.
      </Empty>
    );
  }
  const artifacts = Array.isArray(context.artifacts) ? (context.artifacts as Record<string, unknown>[]) : [];
  return (
    <section aria-label="Handoff context">
      <Notes title="Goals" items={texts(context.goals)} none="No goal recorded." />
      <Notes title="Constraints" items={texts(context.constraints)} none="No constraint recorded." />
      <Notes title="Open questions" items={texts(context.open_questions)} none="No open question." />
      <h5>Artifacts ({artifacts.length})</h5>
      {artifacts.length ? (
        <ul>
          {artifacts.map((a, index) => (
            <li key={index}>
              <code>{String(a.path ?? a.name ?? index)}</code>
              {typeof a.sha256 === "string" ? (
                <>
                  {" "}
                  <code className="hash">{a.sha256}</code>
                </>
              ) : null}
            </li>
          ))}
        </ul>
      ) : (
        <p className="note">No artifact collected.</p>
      )}
      <details>
        <summary>context.json</summary>
        <pre className="json">{pretty(context)}</pre>
      </details>
    </section>
  );
}

function NewBriefForm({ runId, onCreated }: { runId: string; onCreated: (brief: Brief) => void }): JSX.Element {
  const { expired } = useSession();
  const [task, setTask] = useState<(typeof TASKS)[number]>("research");
  const [goal, setGoal] = useState("");
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      onCreated(await send<Brief>("POST", `/api/runs/${encodeURIComponent(runId)}/handoff/briefs`, { task, goal: goal.trim() }));
      setGoal("");
    } catch (caught) {
      if (caught instanceof ApiError && caught.status === 401) expired();
      else if (caught instanceof ApiError) setError(caught);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form
      className="filters"
      aria-label="Write a brief"
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <label>
        Task
        <select value={task} onChange={(e) => setTask(e.target.value as (typeof TASKS)[number])}>
          {TASKS.map((t) => (
            <option key={t}>{t}</option>
          ))}
        </select>
      </label>
      <label>
        Goal
        <input value={goal} onChange={(e) => setGoal(e.target.value)} required maxLength={2000} />
      </label>
      <button type="submit" className="primary" disabled={busy}>
        Write brief
      </button>
      {error ? <ErrorView error={error} /> : null}
    </form>
  );
}

function HandoffPanel({ run }: { run: Run }): JSX.Element {
  const { session, expired } = useSession();
  const [handoff, setHandoff] = useState<Handoff | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [version, setVersion] = useState(0);

  useEffect(() => {
    const abort = new AbortController();
    setError(null);
    getJson<Handoff>(`/api/runs/${encodeURIComponent(run.run_id)}/handoff`, abort.signal)
      .then(setHandoff)
      .catch((caught: unknown) => {
        if (abort.signal.aborted) return;
        if (caught instanceof ApiError && caught.status === 401) expired();
        else if (caught instanceof ApiError) setError(caught);
      });
    return () => abort.abort();
  }, [run.run_id, version, expired]);

  return (
    <article className="panel" aria-labelledby="run-title">
      <h3 id="run-title">Run {run.run_id}</h3>
      <dl className="facts">
        <dt>Project</dt>
        <dd>{run.project}</dd>
        <dt>Family</dt>
        <dd>{run.family}</dd>
        <dt>Created</dt>
        <dd>{when(run.created_at)}</dd>
      </dl>
      {notice ? (
        <p className="notice" role="status">
          {notice}
        </p>
      ) : null}
      {error ? <ErrorView error={error} /> : null}
      {handoff === null && error === null ? <Loading what="the handoff" /> : null}
      {handoff ? (
        <>
          <h4>Context</h4>
          <ContextView context={handoff.context} runId={run.run_id} />
          <h4>Briefs ({handoff.briefs.length})</h4>
          {handoff.briefs.length ? (
            <ul aria-label="Briefs">
              {handoff.briefs.map((b) => (
                <li key={b}>
                  <code>{b}</code>
                </li>
              ))}
            </ul>
          ) : (
            <p className="note">No brief written for this run.</p>
          )}
          {can(session, "propose") ? (
            <NewBriefForm
              runId={run.run_id}
              onCreated={(brief) => {
                setNotice(`Brief ${brief.id} written (${brief.json_path}).`);
                setVersion((n) => n + 1);
              }}
            />
          ) : null}
          <h4>Accepted outputs ({handoff.outputs.length})</h4>
          {handoff.outputs.length ? (
            <ul className="rows" aria-label="Accepted outputs">
              {handoff.outputs.map((o) => (
                <li key={o.path} className="output">
                  <p>
                    <code>{o.path}</code> for brief <code>{o.brief_id}</code>
                  </p>
                  <p>{o.summary}</p>
                  {o.proposed_actions.length ? (
                    <details>
                      <summary>
                        {o.proposed_actions.length} proposed action{o.proposed_actions.length === 1 ? "" : "s"} (recorded,
                        never executed: a principal proposes each)
                      </summary>
                      <pre className="json">{pretty(o.proposed_actions)}</pre>
                    </details>
                  ) : null}
                </li>
              ))}
            </ul>
          ) : (
            <p className="note">No accepted output.</p>
          )}
          {handoff.rejected.length ? (
            <>
              <h4>Refused outputs ({handoff.rejected.length})</h4>
              <ul aria-label="Refused outputs">
                {handoff.rejected.map((r) => (
                  <li key={r}>
                    <code>{r}</code>
                  </li>
                ))}
              </ul>
            </>
          ) : null}
        </>
      ) : null}
    </article>
  );
}

// Runs, newest first, and one run's handoff: its context, the briefs written for
// helpers and the outputs they returned (proposed actions are only recorded).
export function Runs(): JSX.Element {
  const [project, setProject] = useState("");
  const polled = usePoll<{ runs: Run[] }>(`/api/runs${query({ project: project.trim() || null, limit: RUNS_LIMIT })}`, 10000);
  const [openId, setOpenId] = useState<string | null>(null);
  const runs = polled.data?.runs ?? [];
  const open = runs.find((r) => r.run_id === openId) ?? null;

  return (
    <div className="split">
      <section aria-labelledby="runs-title" className="list">
        <h2 id="runs-title">Runs and handoff</h2>
        <form className="filters" aria-label="Filter runs" onSubmit={(e) => e.preventDefault()}>
          <label>
            Project
            <input value={project} onChange={(e) => setProject(e.target.value)} maxLength={64} />
          </label>
        </form>
        {polled.loading ? (
          <Loading what="runs" />
        ) : polled.error && !polled.data ? (
          <ErrorView error={polled.error} />
        ) : runs.length === 0 ? (
          <Empty>No run{project.trim() ? ` in project ${project.trim()}` : ""} yet. `autopack runs create` starts one.</Empty>
        ) : (
          <ul className="rows" aria-label="Runs">
            {runs.map((r) => (
              <li key={r.run_id} className={r.run_id === openId ? "row open" : "row"}>
                <button type="button" className="row-open" aria-expanded={r.run_id === openId} onClick={() => setOpenId(r.run_id)}>
                  <span className="row-title">{r.run_id}</span>
                  <span className="row-meta">
                    {r.project} · {r.family} · {when(r.created_at)}
                  </span>
                </button>
              </li>
            ))}
          </ul>
        )}
      </section>
      <section className="detail" aria-label="Run detail">
        {open ? <HandoffPanel key={open.run_id} run={open} /> : runs.length ? <Empty>Choose a run to read its handoff.</Empty> : null}
      </section>
    </div>
  );
}

// Reading runs needs only a signed-in principal, but the view is for the people
// who oversee agents (an agent reads its runs through the API or the CLI).
export const runsModule = { id: "runs", title: "Runs", permission: "read_all" as const, View: Runs };
