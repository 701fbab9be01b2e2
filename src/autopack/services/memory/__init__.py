"""Run memory: searchable run artifacts in Qdrant (embedded or a server)."""

from autopack.services.memory.service import MemoryService, SearchHit, open_index

__all__ = ["MemoryService", "SearchHit", "open_index"]
