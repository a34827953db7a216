"""The HTTP API: ingest, alerts, silences, health and metrics; one JSON error shape."""
