"""evidence_store."""
