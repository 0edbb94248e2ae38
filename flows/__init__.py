"""Prefect flows and the `esf` command: they wire the steps together and hold no business logic."""
