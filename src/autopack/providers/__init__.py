"""Provider adapters: network I/O to real providers and the sandbox, behind an HTTP transport seam."""
