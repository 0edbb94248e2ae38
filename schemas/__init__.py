"""Pandera models for the warehouse tables, and the validation that routes failing rows to rejects."""
