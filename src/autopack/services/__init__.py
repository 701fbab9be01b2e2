"""Services: database and file I/O behind seams (session factory, clock, entropy)."""
