"""Search: embedders and the search service (semantic + structured filters)."""
