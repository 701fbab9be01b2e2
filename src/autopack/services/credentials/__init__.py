"""The credential store: encrypted OAuth2 tokens and API keys, connect, refresh,
health and re-auth tasks, one module per job (see ``service.py`` for the map).

Other modules import the public names from here.
"""

from __future__ import annotations

from autopack.providers.registry import API_KEY_PROFILES
from autopack.services.credentials.connect import PendingConnect
from autopack.services.credentials.health import (
    DEFAULT_EVENTS_LIMIT,
    MAX_EVENTS_LIMIT,
    CredentialHealth,
)
from autopack.services.credentials.reauth import task_file
from autopack.services.credentials.service import (
    CredentialService,
    runtime_redactor,
    secrets_fingerprint,
    stored_secrets,
)
from autopack.services.credentials.store import SECRET_FIELDS
from autopack.services.credentials.tokens import RefreshPolicy

__all__ = [
    "API_KEY_PROFILES",
    "DEFAULT_EVENTS_LIMIT",
    "MAX_EVENTS_LIMIT",
    "SECRET_FIELDS",
    "CredentialHealth",
    "CredentialService",
    "PendingConnect",
    "RefreshPolicy",
    "runtime_redactor",
    "secrets_fingerprint",
    "stored_secrets",
    "task_file",
]
