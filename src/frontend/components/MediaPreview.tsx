import { useState } from "react";
import { ApiError, getJson } from "../api/client";
import type { PacketMedia } from "../api/types";
import { ErrorView } from "./States";

// The types the API serves for a preview (api: services/packet_media.PREVIEW_TYPES).
export const PREVIEW_IMAGES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);
export const PREVIEW_VIDEOS = new Set(["video/mp4", "video/webm"]);

export function mediaUrl(packetId: string, name: string): string {
  return `/api/packets/${packetId}/media/${encodeURIComponent(name)}`;
}

export function bytes(size: number): string {
  if (size < 1024) return `${size} B`;
  if (size < 1024 * 1024) return `${(size / 1024).toFixed(1)} KiB`;
  if (size < 1024 ** 3) return `${(size / 1024 ** 2).toFixed(1)} MiB`;
  return `${(size / 1024 ** 3).toFixed(2)} GiB`;
}

export function mediaOf(payload: unknown): PacketMedia[] {
  const media = (payload as { media?: unknown } | null)?.media;
  return Array.isArray(media) ? (media as PacketMedia[]) : [];
}

function Preview({ packetId, item }: { packetId: string; item: PacketMedia }): JSX.Element {
  const [failure, setFailure] = useState<ApiError | null>(null);
  const [unplayable, setUnplayable] = useState(false);
  const url = mediaUrl(packetId, item.name);
  // An element cannot read an error body: ask the API once more for its message
  // (a changed file is a 409 with the reason; nothing is served).
  const explain = (): void => {
    getJson<unknown>(url)
      .then(() => setUnplayable(true))
      .catch((caught: unknown) =>
        setFailure(caught instanceof ApiError ? caught : new ApiError(0, "network", "the API cannot be reached")),
      );
  };
  if (failure) return <ErrorView error={failure} />;
  if (unplayable) return <p className="note">This browser cannot show this file.</p>;
  if (PREVIEW_IMAGES.has(item.content_type)) {
    return <img src={url} alt={`Preview of ${item.name}`} onError={explain} />;
  }
  if (PREVIEW_VIDEOS.has(item.content_type)) {
    return (
      <video src={url} controls preload="metadata" aria-label={`Preview of ${item.name}`} onError={explain}>
        {item.name}
      </video>
    );
  }
  return <p className="note">No preview for {item.content_type}.</p>;
}

// A publish packet's media: names, sizes and hashes, and a preview of what the
// browser can show (bytes served only while they still match the hash).
export function MediaList({ packetId, media }: { packetId: string | null; media: PacketMedia[] }): JSX.Element {
  return (
    <section aria-label="Packet media">
      <h4>Media ({media.length})</h4>
      <ul className="media-list">
        {media.map((item) => (
          <li key={item.name} data-testid="packet-media">
            <p>
              <strong>{item.name}</strong> · {item.content_type} · {bytes(item.size)} ({item.size} bytes)
            </p>
            <p>
              SHA-256 <code className="hash">{item.sha256}</code>
            </p>
            <div className="media-preview">
              {packetId ? <Preview packetId={packetId} item={item} /> : <p className="note">No packet id: no preview.</p>}
            </div>
          </li>
        ))}
      </ul>
    </section>
  );
}
