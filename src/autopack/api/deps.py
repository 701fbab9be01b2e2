"""The API's services, built once per app, and typed dependencies that hand them out.

Services live as long as the app (its lifespan builds and closes them), not a
request: they keep state worth keeping, such as the provider adapters'
connection pools, the credential service's single-flight refreshes and the
ledger's reserved block of PostgreSQL approval ids.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import ForbiddenError
from autopack.domain.principals import Actor, Permission
from autopack.services.approvals import ApprovalService
from autopack.services.context import Runtime
from autopack.services.credentials import CredentialService
from autopack.services.executor import Executor
from autopack.services.handoff import HandoffService
from autopack.services.ledger import LedgerService
from autopack.services.memory import MemoryService
from autopack.services.packet_refs import packet_service
from autopack.services.packets import PacketService
from autopack.services.providers import ProviderRegistry
from autopack.services.runs import RunService

RECONCILER_WORKER = "api-reconciler"


@dataclass(frozen=True, slots=True)
class ApiServices:
    """Every service the routes use; one set per app, shared by all requests."""

    registry: ProviderRegistry
    runs: RunService
    ledger: LedgerService
    approvals: ApprovalService
    reconciler: Executor
    credentials: CredentialService
    packets: PacketService
    memory: MemoryService
    handoff: HandoffService

    @classmethod
    def build(cls, runtime: Runtime) -> ApiServices:
        # for_runtime: the reconciler's lookups read stored credentials.
        registry = ProviderRegistry.for_runtime(runtime)
        memory = MemoryService(runtime)
        return cls(
            registry=registry,
            runs=RunService(runtime),
            ledger=LedgerService(runtime, registry),
            approvals=ApprovalService(runtime, registry),
            reconciler=Executor(runtime, registry, worker=RECONCILER_WORKER),
            credentials=CredentialService(runtime, actor="api"),
            packets=packet_service(runtime),
            memory=memory,
            handoff=HandoffService(runtime, memory),
        )

    def close(self) -> None:
        """Release what the services hold (HTTP clients of adapters and the token endpoint)."""
        try:
            self.credentials.close()
        finally:
            try:
                self.memory.close()
            finally:
                self.registry.close()


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_services(request: Request) -> ApiServices:
    services: ApiServices | None = getattr(request.app.state, "services", None)
    if services is None:  # a programming error: the app is served without its lifespan
        raise RuntimeError("the API's services are built by its lifespan, which has not run")
    return services


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
ServicesDep = Annotated[ApiServices, Depends(get_services)]


def get_run_service(services: ServicesDep) -> RunService:
    return services.runs


def get_ledger(services: ServicesDep) -> LedgerService:
    return services.ledger


def get_approvals(services: ServicesDep) -> ApprovalService:
    return services.approvals


def get_reconciler(services: ServicesDep) -> Executor:
    return services.reconciler


def get_credentials(services: ServicesDep) -> CredentialService:
    return services.credentials


def get_packets(services: ServicesDep) -> PacketService:
    return services.packets


RunServiceDep = Annotated[RunService, Depends(get_run_service)]
LedgerDep = Annotated[LedgerService, Depends(get_ledger)]
ApprovalsDep = Annotated[ApprovalService, Depends(get_approvals)]
ReconcilerDep = Annotated[Executor, Depends(get_reconciler)]
CredentialServiceDep = Annotated[CredentialService, Depends(get_credentials)]
PacketServiceDep = Annotated[PacketService, Depends(get_packets)]


def get_actor(request: Request) -> Actor:
    """The authenticated principal of this request (set by ``api.security``)."""
    actor: Actor = request.state.actor
    return actor


ActorDep = Annotated[Actor, Depends(get_actor)]


def acting(actor: Actor, claimed: str | None, field: str) -> Actor:
    """The person a request acts as is its authenticated principal: a body that names
    someone else is refused (never believed)."""
    if claimed is not None and claimed != actor.name:
        raise ForbiddenError(
            f"{field} {claimed[:64]!r} is not you ({actor.name}): the API records the "
            "authenticated principal; leave the field out or name yourself",
            code=ErrorCode.IDENTITY_MISMATCH,
        )
    return actor


def requires(permission: Permission) -> Callable[[Actor], None]:
    """A dependency that refuses (403) callers whose role lacks ``permission``."""

    def check(actor: ActorDep) -> None:
        actor.require(permission)

    return check
