"""Builds the runtime: the one place that wires the credential store into it.

``services.context`` defines the runtime and imports no service; the credential
services are built on the runtime. This module sits above both and hands the
runtime the small callable (``credentials.stored_secrets``) its redactor loads
the stored secrets from, so the two never import each other.
"""

from __future__ import annotations

from autopack.services.context import Runtime, runtime_for
from autopack.services.credentials import secrets_fingerprint, stored_secrets
from autopack.settings import Settings


def build_runtime(settings: Settings) -> Runtime:
    """The runtime for ``settings``: its database, and its credential store's secrets."""
    return runtime_for(
        settings, stored_secrets=stored_secrets, secrets_fingerprint=secrets_fingerprint
    )
