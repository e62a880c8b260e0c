"""Read-only HTTP API over the source database."""
