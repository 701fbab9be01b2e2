// A unified diff (as the API sends it) made readable: file headers, hunk
// headers, added and removed lines each marked by more than colour.
export type UnifiedLineKind = "file" | "hunk" | "added" | "removed" | "same";

export function classifyUnified(diff: string): { kind: UnifiedLineKind; text: string }[] {
  const lines = diff.endsWith("\n") ? diff.slice(0, -1).split("\n") : diff.split("\n");
  return lines.map((text) => {
    if (text.startsWith("+++") || text.startsWith("---")) return { kind: "file", text };
    if (text.startsWith("@@")) return { kind: "hunk", text };
    if (text.startsWith("+")) return { kind: "added", text: text.slice(1) };
    if (text.startsWith("-")) return { kind: "removed", text: text.slice(1) };
    return { kind: "same", text: text.startsWith(" ") ? text.slice(1) : text };
  });
}

const MARK: Record<UnifiedLineKind, string> = { file: "", hunk: "", added: "+ ", removed: "- ", same: "  " };

export function UnifiedDiff({ diff, label }: { diff: string; label: string }): JSX.Element {
  const lines = classifyUnified(diff);
  return (
    <figure className="diff">
      <figcaption>{label}</figcaption>
      {diff.trim() === "" ? (
        <p>No text changed (only the snapshot hash).</p>
      ) : (
        <pre aria-label={label}>
          {lines.map((line, index) => (
            <span key={index} className={`diff-${line.kind}`}>
              {MARK[line.kind]}
              {line.text}
              {"\n"}
            </span>
          ))}
        </pre>
      )}
    </figure>
  );
}
