"""Pure domain logic: no I/O, no AWS, no environment. Everything here is deterministic over plain data."""
