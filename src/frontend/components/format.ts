export function when(moment: string | null | undefined): string {
  if (!moment) return "—";
  return moment.replace("T", " ").replace(/\.\d+Z$/, "Z");
}

export function short(hash: string | null | undefined, length = 12): string {
  if (!hash) return "—";
  return hash.length > length ? `${hash.slice(0, length)}…` : hash;
}

export function pretty(value: unknown): string {
  return JSON.stringify(value, null, 2) ?? "null";
}

// Sorted keys, so two payloads line up in a diff whatever their key order.
export function sortedPretty(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v !== null && typeof v === "object") {
      return Object.fromEntries(
        Object.keys(v as Record<string, unknown>)
          .sort()
          .map((k) => [k, sort((v as Record<string, unknown>)[k])]),
      );
    }
    return v;
  };
  return pretty(sort(value));
}
