"""Prefect flows: they decorate the run service's steps (tasks, retries, progress, artifacts) and hold no rules."""
