import { diffLines } from "./diff";

export function Diff({ before, after, label }: { before: string; after: string; label: string }): JSX.Element {
  const lines = diffLines(before, after);
  const changed = lines.some((l) => l.kind !== "same");
  return (
    <figure className="diff">
      <figcaption>{label}</figcaption>
      {changed ? (
        <pre aria-label={label}>
          {lines.map((line, index) => (
            <span key={index} className={`diff-${line.kind}`}>
              {line.kind === "added" ? "+ " : line.kind === "removed" ? "- " : "  "}
              {line.text}
              {"\n"}
            </span>
          ))}
        </pre>
      ) : (
        <p>No change: the payload is the same.</p>
      )}
    </figure>
  );
}
