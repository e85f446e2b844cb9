"""The selectivity-aware search planner shared by the backends.

A filtered nearest-neighbour query over an HNSW graph is only as good as its candidate list: if
a fraction ``s`` of the rows pass the filters, about ``k / s`` graph neighbours must be examined
to meet ``k`` passing ones. So:

1. **few candidates** — when at most ``exact_threshold`` rows pass the filters (or the caller
   asks for it, or there is no ANN index), score exactly those rows: exact and cheap.
2. **many candidates** — otherwise query the HNSW index with a candidate list (``ef_search``)
   of ``max(ef_search, k × oversample) / s``, capped at ``max_ef_search``, so that about as
   many *passing* rows are examined as an unfiltered query examines rows, and keep the
   candidates that pass the filters (post-filtering; both backends).
3. **too selective for the graph** — if even ``k × oversample / s`` exceeds ``max_ef_search``
   (pgvector's limit is 1000), search exactly instead: such a filter leaves few enough rows.

If fewer than ``min(k, matching)`` candidates pass, the backend falls back to the exact search.
Post-filtering plus this fallback is exact up to the HNSW's own recall: when ``k`` candidates
pass, every passing row nearer than the ``k``-th lies among the candidates (they are the
nearest rows overall); when fewer pass, the true top-``k`` may lie beyond them, and the fallback
finds it. Filtering *inside* the traversal (e.g. faiss ``IDSelector``) gives no such signal: it
returns ``k`` hits even when the filter excludes the query's neighbourhood, silently missing
the best ones (``test_correlated_filter_falls_back_to_exact``).

This is the pre-filter/post-filter trade-off of filtered ANN search discussed e.g. by
Gollapudi et al., "Filtered-DiskANN" (WWW 2023), and Patel et al., "ACORN" (SIGMOD 2024).
"""

from __future__ import annotations

import math

from ocais.store.vectors.base import SearchPlan, VectorIndexOptions


def plan_search(
    *,
    total_rows: int,
    matching_rows: int,
    k: int,
    options: VectorIndexOptions,
    has_index: bool,
    exact: bool = False,
) -> SearchPlan:
    """Choose exact or ANN search and size the HNSW candidate list.

    ``matching_rows`` may be an estimate above ``exact_threshold`` (a backend need not count
    further than that); ``total_rows`` is the number of live rows in the collection.
    """
    selectivity = matching_rows / total_rows if total_rows else 0.0

    def exact_plan(reason: str) -> SearchPlan:
        return SearchPlan(
            method="exact",
            total_rows=total_rows,
            matching_rows=matching_rows,
            selectivity=selectivity,
            reason=reason,
        )

    if exact:
        return exact_plan("exact search requested")
    if matching_rows <= options.exact_threshold:
        return exact_plan(f"{matching_rows} rows pass the filters (≤ exact_threshold)")
    if not has_index:
        return exact_plan("the collection has no ANN index yet")
    needed = math.ceil(k * options.oversample / max(selectivity, 1e-12))
    if needed > options.max_ef_search:
        return exact_plan(
            f"selectivity {selectivity:.2%} needs {needed} ANN candidates (> max_ef_search)"
        )
    # The candidate list holds about ef × selectivity passing rows: scale it so that a filtered
    # query keeps the unfiltered query's effective list (within max_ef_search).
    wanted = math.ceil(max(options.ef_search, k * options.oversample) / max(selectivity, 1e-12))
    ef_search = min(max(wanted, k), options.max_ef_search)
    return SearchPlan(
        method="ann",
        total_rows=total_rows,
        matching_rows=matching_rows,
        selectivity=selectivity,
        ef_search=ef_search,
        candidates=ef_search,
        reason=f"{matching_rows} rows pass the filters (selectivity {selectivity:.2%})",
    )
