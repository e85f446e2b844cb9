"""SQL of the pgvector backend, composed with ``psycopg.sql`` (identifiers are always quoted).

One table per collection::

    vec_<name>(id text PRIMARY KEY, embedding vector(<dimension>) NOT NULL, <key> <type>, ...)

with a btree index per metadata key (for selective filters and counts) and, once built, an HNSW
index ``vec_<name>_hnsw``; ``vector_collections`` registers each collection's spec, its live
row count (kept in the writing transaction) and whether the HNSW index exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import sql

from ocais.store.vectors.base import CollectionSpec, MetadataType, Metric
from ocais.store.vectors.checks import Condition

#: Serialises DDL on the registry (any constant, distinct from the store's migration lock).
REGISTRY_LOCK = 4_240_017
REGISTRY = sql.Identifier("vector_collections")

SQL_TYPES: dict[MetadataType, str] = {
    "str": "text",
    "int": "bigint",
    "float": "double precision",
    "bool": "boolean",
}
COPY_TYPES: dict[MetadataType, str] = {
    "str": "text",
    "int": "int8",
    "float": "float8",
    "bool": "bool",
}
#: pgvector operator and operator class per metric; the operator returns a distance.
OPERATORS: dict[Metric, tuple[str, str]] = {
    "cosine": ("<=>", "vector_cosine_ops"),
    "ip": ("<#>", "vector_ip_ops"),
    "l2": ("<->", "vector_l2_ops"),
}

CREATE_REGISTRY = sql.SQL(
    "CREATE TABLE IF NOT EXISTS {registry} ("
    " name text PRIMARY KEY,"
    " spec jsonb NOT NULL,"
    " n_rows bigint NOT NULL DEFAULT 0,"
    " ann_index boolean NOT NULL DEFAULT false,"
    " created_at timestamptz NOT NULL DEFAULT now())"
).format(registry=REGISTRY)


def score_of(metric: Metric, distance: float) -> float:
    """pgvector's distance as the protocol's similarity (higher is closer)."""
    return 1.0 - distance if metric == "cosine" else -distance


def table(spec_name: str) -> sql.Identifier:
    return sql.Identifier(f"vec_{spec_name}")


def hnsw_index(spec_name: str) -> sql.Identifier:
    return sql.Identifier(f"vec_{spec_name}_hnsw")


def create_table(spec: CollectionSpec) -> list[sql.Composed]:
    columns = [
        sql.SQL("{} {}").format(sql.Identifier(key), sql.SQL(SQL_TYPES[type_]))
        for key, type_ in spec.key_types().items()
    ]
    statements = [
        sql.SQL(
            "CREATE TABLE {table} (id text PRIMARY KEY, embedding vector({dim}) NOT NULL{cols})"
        ).format(
            table=table(spec.name),
            dim=sql.Literal(spec.dimension),
            cols=sql.SQL("").join(sql.SQL(", ") + column for column in columns),
        )
    ]
    for position, key in enumerate(spec.metadata_keys):
        statements.append(
            sql.SQL("CREATE INDEX {index} ON {table} ({column})").format(
                index=sql.Identifier(f"vec_{spec.name}_k{position}"),
                table=table(spec.name),
                column=sql.Identifier(key),
            )
        )
    return statements


def create_hnsw(spec: CollectionSpec, m: int, ef_construction: int) -> sql.Composed:
    return sql.SQL(
        "CREATE INDEX {index} ON {table} USING hnsw (embedding {ops})"
        " WITH (m = {m}, ef_construction = {ef})"
    ).format(
        index=hnsw_index(spec.name),
        table=table(spec.name),
        ops=sql.SQL(OPERATORS[spec.metric][1]),
        m=sql.Literal(m),
        ef=sql.Literal(ef_construction),
    )


def where(
    conditions: Sequence[Condition], restrict_to: Sequence[str] | None
) -> tuple[sql.Composable, list[Any]]:
    """``WHERE`` clause (or nothing) and its parameters for the filters."""
    parts: list[sql.Composable] = []
    params: list[Any] = []
    for condition in conditions:
        column = sql.Identifier(condition.key)
        options: list[sql.Composable] = []
        if condition.values:
            options.append(
                sql.SQL("{} = ANY(%s::{}[])").format(column, sql.SQL(SQL_TYPES[condition.type]))
            )
            params.append(list(condition.values))
        if condition.include_null:
            options.append(sql.SQL("{} IS NULL").format(column))
        if not options:
            options.append(sql.SQL("FALSE"))
        parts.append(sql.SQL("(") + sql.SQL(" OR ").join(options) + sql.SQL(")"))
    if restrict_to is not None:
        parts.append(sql.SQL("id = ANY(%s::text[])"))
        params.append(list(restrict_to))
    if not parts:
        return sql.SQL(""), params
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(parts), params


def select_columns(spec: CollectionSpec) -> sql.Composable:
    return sql.SQL("").join(sql.SQL(", ") + sql.Identifier(key) for key in spec.metadata_keys)


def exact_search(spec: CollectionSpec, where_sql: sql.Composable) -> sql.Composed:
    """Top-k by a full scan of the matching rows (the caller disables index scans)."""
    return sql.SQL(
        "SELECT id, embedding {op} %s::vector AS distance{cols} FROM {table}{where}"
        " ORDER BY distance, id LIMIT %s"
    ).format(
        op=sql.SQL(OPERATORS[spec.metric][0]),
        cols=select_columns(spec),
        table=table(spec.name),
        where=where_sql,
    )


def ann_search(spec: CollectionSpec, where_sql: sql.Composable) -> sql.Composed:
    """Top-k among the HNSW index's nearest ``candidates`` that pass the filters.

    The inner query is a plain ``ORDER BY distance LIMIT`` so PostgreSQL answers it from the
    HNSW index (pgvector 0.6 has no iterative scans: the filter is applied afterwards).
    """
    op = sql.SQL(OPERATORS[spec.metric][0])
    return sql.SQL(
        "SELECT id, distance{cols} FROM ("
        "SELECT id, embedding {op} %s::vector AS distance{cols} FROM {table}"
        " ORDER BY embedding {op} %s::vector LIMIT %s) AS candidates{where}"
        " ORDER BY distance, id LIMIT %s"
    ).format(op=op, cols=select_columns(spec), table=table(spec.name), where=where_sql)


def upsert_from_stage(spec: CollectionSpec, stage: sql.Identifier) -> sql.Composed:
    """Insert or replace from the staging table, skipping unchanged rows; counts both kinds."""
    columns = [sql.Identifier("embedding")] + [sql.Identifier(k) for k in spec.metadata_keys]
    target = sql.SQL(", ").join(columns)
    excluded = sql.SQL(", ").join(sql.SQL("EXCLUDED.") + column for column in columns)
    current = sql.SQL(", ").join(sql.SQL("t.") + column for column in columns)
    return sql.SQL(
        "WITH written AS ("
        "INSERT INTO {table} AS t (id, {target}) SELECT id, {target} FROM {stage}"
        " ON CONFLICT (id) DO UPDATE SET ({target}) = ROW({excluded})"
        " WHERE ROW({current}) IS DISTINCT FROM ROW({excluded})"
        " RETURNING (xmax = 0) AS inserted)"
        " SELECT count(*), count(*) FILTER (WHERE inserted) FROM written"
    ).format(
        table=table(spec.name),
        target=target,
        stage=stage,
        excluded=excluded,
        current=current,
    )
