"""Vector indexes: the VectorIndex protocol, the embedded backend and pgvector."""
