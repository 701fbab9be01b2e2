import { fireEvent, render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { Session } from "../api/types";
import { SessionContext } from "../app/session";
import { bytes } from "../components/MediaPreview";
import { Inbox } from "../views/Inbox";
import { actionDetail, approval, fakeApi, operator } from "./fakeApi";

const PACKET_ID = "f".repeat(64);
const IMAGE_HASH = "1".repeat(64);
const VIDEO_HASH = "2".repeat(64);

const packet = {
  schema: "autopack.packet/1",
  provider: "etsy",
  action: "listing.create",
  run: null,
  fields: { title: "Mug" },
  disclosures: {},
  compliance: {},
  media: [
    { name: "front.png", path: "in/front.png", size: 2048, sha256: IMAGE_HASH, content_type: "image/png" },
    { name: "spin.webm", path: "in/spin.webm", size: 3 * 1024 * 1024, sha256: VIDEO_HASH, content_type: "video/webm" },
    { name: "old.mov", path: "in/old.mov", size: 10, sha256: "3".repeat(64), content_type: "video/quicktime" },
  ],
  policy_refs: [],
};

function renderInbox(): void {
  render(
    <SessionContext.Provider value={{ session: operator as Session, expired: () => undefined }}>
      <Inbox />
    </SessionContext.Provider>,
  );
}

describe("Packet media in the inbox", () => {
  it("lists names, sizes and hashes, previews images and video, and shows why a changed file is not shown", async () => {
    const calls = fakeApi({
      "GET /api/approvals": () => ({ status: 200, body: { approvals: [approval(1)] } }),
      "GET /api/approvals/1": () => ({ status: 200, body: { ...approval(1), actions: ["vid-1"], decisions: [] } }),
      "GET /api/actions/vid-1": () => ({ status: 200, body: { ...actionDetail("vid-1", packet), packet_id: PACKET_ID } }),
      "GET /api/actions": () => ({ status: 200, body: { actions: [] } }),
      [`GET /api/packets/${PACKET_ID}/media/front.png`]: () => ({
        status: 409,
        body: { error: { code: "media_changed", message: "media 'front.png' changed since the packet was built" } },
      }),
    });
    renderInbox();
    await userEvent.click(await screen.findByRole("button", { name: /#1 sandbox video.upload/ }));
    const media = await screen.findByRole("region", { name: "Packet media" });
    const items = within(media).getAllByTestId("packet-media");
    expect(items).toHaveLength(3);
    expect(items[0]).toHaveTextContent("front.png · image/png · 2.0 KiB (2048 bytes)");
    expect(items[0]).toHaveTextContent(IMAGE_HASH);
    expect(items[1]).toHaveTextContent("3.0 MiB");
    const image = within(items[0]).getByRole("img", { name: "Preview of front.png" });
    expect(image).toHaveAttribute("src", `/api/packets/${PACKET_ID}/media/front.png`);
    const video = items[1].querySelector("video");
    expect(video).toHaveAttribute("src", `/api/packets/${PACKET_ID}/media/spin.webm`);
    expect(video).toHaveAttribute("controls");
    expect(items[2]).toHaveTextContent("No preview for video/quicktime.");
    // The image fails to load: the API's reason is shown, not a broken image.
    fireEvent.error(image);
    expect(await within(items[0]).findByRole("alert")).toHaveTextContent("changed since the packet was built");
    expect(within(items[0]).getByRole("alert")).toHaveTextContent("media_changed");
    expect(calls.filter((c) => c.path.includes("/media/front.png"))).toHaveLength(1);
  });

  it("shows no media section for a payload that is not a packet", async () => {
    fakeApi({
      "GET /api/approvals": () => ({ status: 200, body: { approvals: [approval(1)] } }),
      "GET /api/approvals/1": () => ({ status: 200, body: { ...approval(1), actions: ["vid-1"], decisions: [] } }),
      "GET /api/actions/vid-1": () => ({ status: 200, body: { ...actionDetail("vid-1", { title: "x" }), packet_id: null } }),
      "GET /api/actions": () => ({ status: 200, body: { actions: [] } }),
    });
    renderInbox();
    await userEvent.click(await screen.findByRole("button", { name: /#1 sandbox video.upload/ }));
    expect(await screen.findByRole("region", { name: /Dry-run request of vid-1/ })).toBeInTheDocument();
    expect(screen.queryByRole("region", { name: "Packet media" })).toBeNull();
  });

  it("formats sizes", () => {
    expect([bytes(512), bytes(1536), bytes(5 * 1024 ** 3)]).toEqual(["512 B", "1.5 KiB", "5.00 GiB"]);
  });
});
