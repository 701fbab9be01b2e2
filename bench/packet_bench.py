"""Build a publish packet over generated media and compare it with `sha256sum`.

Prints one JSON line. The media (3 GiB by default, three files; ``--quick``:
96 MiB) is generated once into a temporary workspace; then, in the same run,
``sha256sum`` hashes the same files (the floor) and ``PacketService.build``
builds the packet (reading every byte once to hash it, sniffing the type,
writing the packet atomically).

Targets (``targets_met``): build wall time <= 1.2x the ``sha256sum`` time, and
the peak RSS growth of the building process <= 64 MiB (the media is streamed,
never held in memory). ``--check`` exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autopack.services.packets import PacketService

MiB = 1024 * 1024
MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
FILES = 3
RSS_TARGET_MIB = 64.0
RATIO_TARGET = 1.2


def _peak_rss_mib() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _generate(path: Path, size: int) -> None:
    """Deterministic, incompressible-looking bytes (no zero pages for the OS to skip)."""
    block = bytearray(os.urandom(MiB))
    with path.open("wb") as out:
        out.write(MP4_HEAD)
        written = len(MP4_HEAD)
        counter = 0
        while written < size:
            block[:8] = counter.to_bytes(8, "big")
            chunk = block[: min(MiB, size - written)]
            out.write(chunk)
            written += len(chunk)
            counter += 1


def _sha256sum_seconds(files: list[Path]) -> float:
    started = time.perf_counter()
    subprocess.run(["sha256sum", *map(str, files)], check=True, capture_output=True)
    return time.perf_counter() - started


def run(total_bytes: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="autopack-packet-bench-") as tmp:
        workspace = Path(tmp)
        media = [workspace / "media" / f"part-{n}.mp4" for n in range(FILES)]
        media[0].parent.mkdir()
        for path in media:
            _generate(path, total_bytes // FILES)
        spec = workspace / "spec.json"
        spec.write_text(
            json.dumps(
                {
                    "provider": "youtube",
                    "action": "video.upload",
                    "fields": {"title": "bench", "privacyStatus": "private"},
                    "disclosures": {
                        "containsSyntheticMedia": False,
                        "selfDeclaredMadeForKids": False,
                    },
                }
            ),
            encoding="utf-8",
        )
        service = PacketService(workspace)
        # Warm the page cache for both contenders alike, then measure each once.
        _sha256sum_seconds(media)
        floor = _sha256sum_seconds(media)
        rss_before = _peak_rss_mib()
        started = time.perf_counter()
        sizes = 0
        for path in media:
            # One packet per file: YouTube takes one video per upload.
            built = service.build(spec, [path])
            sizes += int(built.document["media"][0]["size"])
        build_seconds = time.perf_counter() - started
        rss_growth = max(0.0, _peak_rss_mib() - rss_before)
        shutil.rmtree(workspace / "media")
    ratio = build_seconds / floor if floor > 0 else float("inf")
    return {
        "bench": "packet_build",
        "media_bytes": sizes,
        "files": FILES,
        "sha256sum_seconds": round(floor, 3),
        "build_seconds": round(build_seconds, 3),
        "build_vs_sha256sum": round(ratio, 3),
        "rss_growth_mib": round(rss_growth, 1),
        "targets_met": {
            "build_le_1_2x_sha256sum": ratio <= RATIO_TARGET,
            "rss_growth_le_64mib": rss_growth <= RSS_TARGET_MIB,
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="96 MiB instead of 3 GiB")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if shutil.which("sha256sum") is None:
        print(json.dumps({"bench": "packet_build", "error": "sha256sum not found"}))
        return 2
    result = run(96 * MiB if args.quick else 3 * 1024 * MiB)
    print(json.dumps(result, sort_keys=True), flush=True)
    targets = result["targets_met"]
    assert isinstance(targets, dict)
    return 1 if args.check and not all(targets.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
