"""Pure domain logic: no I/O, no frameworks. Checked by import-linter."""
