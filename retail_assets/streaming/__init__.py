"""Pulsar: publishing NDJSON detection events and reading them back."""
