"""Building, storing and reading publish packets (see ``autopack.domain.packets``).

``build`` reads the spec and every media file (streamed: size and SHA-256 from
the bytes, the type sniffed from the first bytes), takes the provider's current
acknowledged policy snapshot refs, and writes the packet atomically to
``<run>/packets/<id>.json`` (``<workspace>/.autonomous_runs/_autopack/packets/``
without a run). Media stays where it is, referenced by a path relative to the
run (or the workspace), or is copied into ``<run>/media/`` with ``copy``. The
file is named by its id, so ``show`` finds it by id alone.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from autopack.domain.canonical import MAX_NESTING_DEPTH, canonical_json, parse_json_strict
from autopack.domain.error_codes import ErrorCode
from autopack.domain.layout import RUNS_ROOT, RunRef, state_dir
from autopack.domain.packets import (
    MAX_MEDIA_NAME,
    SNIFF_BYTES,
    MediaFact,
    PacketError,
    PacketNotFoundError,
    PolicyRef,
    build_packet,
    open_packet,
    packet_id,
    parse_spec,
    sniff_content_type,
    validate_packet_id,
)
from autopack.providers._media import hash_file
from autopack.providers.registry import UNITS
from autopack.services.fsio import atomic_write_bytes
from autopack.services.runs import RunService

PACKETS_DIR = "packets"
MEDIA_DIR = "media"
MAX_SPEC_BYTES = 1024 * 1024

# provider -> the current acknowledged policy snapshot refs (the policy monitor).
PolicyRefSource = Callable[[str], list[PolicyRef]]


def no_policy_refs(provider: str) -> list[PolicyRef]:
    return []


@dataclass(frozen=True, slots=True)
class BuiltPacket:
    packet_id: str
    path: Path
    document: dict[str, Any]
    created: bool

    def to_dict(self, workspace: Path) -> dict[str, Any]:
        return {
            "packet_id": self.packet_id,
            "path": self.path.relative_to(workspace).as_posix(),
            "created": self.created,
            "packet": self.document,
        }


def profile_for(provider: str) -> Any:
    unit = UNITS.get(provider)
    if unit is None or unit.packet is None:
        takes = sorted(u.name for u in UNITS.values() if u.packet is not None)
        raise PacketError(
            f"provider {provider[:64]!r} takes no packets; these do: {', '.join(takes)}"
        )
    return unit.packet


def read_spec(path: Path) -> Any:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_SPEC_BYTES + 1)
    except OSError as exc:
        raise PacketError(f"cannot read spec {path.name!r}: {exc.strerror or exc}") from None
    if len(data) > MAX_SPEC_BYTES:
        raise PacketError(f"spec {path.name!r} is larger than {MAX_SPEC_BYTES} bytes")
    return parse_json_strict(data, max_depth=MAX_NESTING_DEPTH)


class PacketService:
    def __init__(
        self,
        workspace: Path,
        runs: RunService | None = None,
        policy_refs: PolicyRefSource = no_policy_refs,
    ) -> None:
        self._workspace = workspace.resolve()
        self._runs = runs
        self._policy_refs = policy_refs

    def _run(self, run_id: str | None) -> RunRef | None:
        if run_id is None:
            return None
        if self._runs is None:
            raise PacketError("building a packet for a run needs the database")
        return self._runs.get(run_id).ref

    def _base(self, run: RunRef | None) -> Path:
        return run.directory(self._workspace) if run is not None else self._workspace

    def _packets_dir(self, run: RunRef | None) -> Path:
        if run is None:
            return state_dir(self._workspace) / PACKETS_DIR
        return run.directory(self._workspace) / PACKETS_DIR

    def _media_fact(self, source: Path, base: Path, run: RunRef | None, copy: bool) -> MediaFact:
        name = source.name
        if not name or len(name) > MAX_MEDIA_NAME or not name.isprintable():
            raise PacketError(f"media file name {name[:40]!r} is empty, too long or unprintable")
        try:
            resolved = source.resolve(strict=True)
            if not resolved.is_file():
                raise PacketError(
                    f"media {name!r} is not a regular file", code=ErrorCode.MEDIA_UNREADABLE
                )
            with resolved.open("rb") as handle:
                head = handle.read(SNIFF_BYTES)
            size, digest = hash_file(resolved)
        except OSError as exc:
            raise PacketError(
                f"media {name!r} cannot be read: {exc.strerror or exc}",
                code=ErrorCode.MEDIA_UNREADABLE,
                details={"media": name},
            ) from None
        if size == 0:
            raise PacketError(f"media {name!r} is empty", code=ErrorCode.MEDIA_UNREADABLE)
        if copy:
            if run is None:
                raise PacketError("--copy needs a run: media is copied into the run directory")
            target = base / MEDIA_DIR / f"{digest[:16]}-{name}"
            if not target.exists():
                _copy_atomically(resolved, target)
            resolved = target
        if not resolved.is_relative_to(self._workspace):
            raise PacketError(
                f"media {name!r} is outside the workspace: move it in, or build for a run "
                "with --copy",
                details={"media": name},
            )
        relative = PurePosixPath(Path(os.path.relpath(resolved, base)).as_posix())
        return MediaFact(
            name=name,
            path=str(relative),
            size=size,
            sha256=digest,
            content_type=sniff_content_type(head),
        )

    def assemble(
        self,
        spec_path: Path,
        media: list[Path],
        *,
        provider: str | None = None,
        run_id: str | None = None,
        copy: bool = False,
    ) -> tuple[dict[str, Any], RunRef | None]:
        """The packet document (and its run), written nowhere (``copy`` still copies
        the media into the run: the document names the copies)."""
        spec = parse_spec(read_spec(spec_path))
        if provider is not None and provider != spec.provider:
            raise PacketError(f"the spec is for {spec.provider!r}, not {provider!r}")
        profile = profile_for(spec.provider)
        run = self._run(run_id)
        base = self._base(run)
        facts = [self._media_fact(path, base, run, copy) for path in media]
        run_fields = (
            None
            if run is None
            else {"project": run.project, "family": run.family, "run_id": run.run_id}
        )
        document = build_packet(spec, profile, facts, self._policy_refs(spec.provider), run_fields)
        return document, run

    def build(
        self,
        spec_path: Path,
        media: list[Path],
        *,
        provider: str | None = None,
        run_id: str | None = None,
        copy: bool = False,
    ) -> BuiltPacket:
        """Assemble the packet and write it (atomically, once: the name is its id)."""
        document, run = self.assemble(spec_path, media, provider=provider, run_id=run_id, copy=copy)
        identifier = packet_id(document)
        path = self._packets_dir(run) / f"{identifier}.json"
        created = not path.exists()
        if created:
            atomic_write_bytes(path, canonical_json(document) + b"\n")
        return BuiltPacket(identifier, path, document, created)

    def find(self, identifier: str) -> Path:
        validate_packet_id(identifier)
        name = f"{identifier}.json"
        loose = state_dir(self._workspace) / PACKETS_DIR / name
        if loose.is_file():
            return loose
        for candidate in (self._workspace / RUNS_ROOT).glob(f"*/runs/*/*/{PACKETS_DIR}/{name}"):
            return candidate
        raise PacketNotFoundError(f"no packet {identifier} in the workspace")

    def show(self, identifier: str) -> BuiltPacket:
        path = self.find(identifier)
        document = parse_json_strict(path.read_bytes(), max_depth=MAX_NESTING_DEPTH)
        if not isinstance(document, dict) or packet_id(document) != identifier:
            raise PacketError(
                f"packet file {path.name} does not hash to its name: it was edited",
                details={"packet_id": identifier},
            )
        provider = document.get("provider")
        open_packet(document, profile_for(str(provider)))
        return BuiltPacket(identifier, path, document, created=False)


def _copy_atomically(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    with source.open("rb") as src, partial.open("wb") as dst:
        shutil.copyfileobj(src, dst, 1024 * 1024)
        dst.flush()
        os.fsync(dst.fileno())
    partial.replace(target)
