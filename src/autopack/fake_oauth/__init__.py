"""A fake OAuth 2.0 authorization server (separate local process) for tests and demos."""
