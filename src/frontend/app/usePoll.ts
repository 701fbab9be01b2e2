import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError, request } from "../api/client";
import { useSession } from "./session";

export const POLL_MS = 3000;

export interface Polled<T> {
  data: T | null;
  error: ApiError | null;
  loading: boolean;
  refresh: () => void;
}

// Keeps `path` fresh: polls every `intervalMs` with If-None-Match, so an unchanged
// list costs a 304 and no re-render. A 401 ends the session (back to login).
export function usePoll<T>(path: string | null, intervalMs: number = POLL_MS): Polled<T> {
  const { expired } = useSession();
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(path !== null);
  const etag = useRef<string | null>(null);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    etag.current = null;
    setData(null);
    setError(null);
    setLoading(path !== null);
  }, [path]);

  useEffect(() => {
    if (path === null) return undefined;
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async (): Promise<void> => {
      try {
        const answer = await request<T>(path, { etag: etag.current, signal: abort.signal });
        if (answer.status !== 304) {
          etag.current = answer.etag;
          setData(answer.data);
        }
        setError(null);
      } catch (caught) {
        if (abort.signal.aborted) return;
        const failure =
          caught instanceof ApiError ? caught : new ApiError(0, "network", "the API cannot be reached");
        if (failure.status === 401) {
          expired();
          return;
        }
        setError(failure);
      } finally {
        if (!abort.signal.aborted) {
          setLoading(false);
          timer = setTimeout(() => void poll(), intervalMs);
        }
      }
    };
    void poll();
    return () => {
      abort.abort();
      if (timer !== undefined) clearTimeout(timer);
    };
  }, [path, intervalMs, tick, expired]);

  const refresh = useCallback(() => {
    etag.current = null;
    setTick((n) => n + 1);
  }, []);
  return { data, error, loading, refresh };
}
