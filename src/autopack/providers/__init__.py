"""Provider adapters: network I/O to providers and the sandbox, behind a transport seam."""
