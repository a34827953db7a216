"""Ingest: sources that turn files, HTTP bodies and queries into validated sample batches."""
