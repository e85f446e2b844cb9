"""The PostgreSQL + pgvector ``VectorIndex``: one table per collection in the store's database.

Writes are one transaction each (stage with binary ``COPY``, then ``INSERT ... ON CONFLICT``),
so a failed batch writes nothing. Search follows :mod:`ocais.store.vectors.planner`: the
filtered rows are estimated (``EXPLAIN``), and counted if the estimate is near the threshold;
few of them are scored exactly (index scans off; the btree indexes on metadata find them), many
go through the HNSW index with ``hnsw.ef_search`` raised for the filter's selectivity,
post-filtered (pgvector 0.6 has no iterative index scans), and searched exactly again if fewer
than ``k`` hits survive.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np
import psycopg
from psycopg import sql
from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError

from ocais.errors import NotFoundError, StoreError, VectorIndexError
from ocais.store.engine import connect
from ocais.store.vectors import pgvector_sql as q
from ocais.store.vectors.base import (
    CollectionSpec,
    Filters,
    MetadataValue,
    SearchPlan,
    VectorHit,
    VectorIndexOptions,
)
from ocais.store.vectors.checks import (
    check_filters,
    check_ids,
    check_k,
    check_metadata,
    check_name,
    check_query,
    check_restrict_to,
    check_vectors,
    spec_mismatch,
)
from ocais.store.vectors.planner import plan_search

STAGE = sql.Identifier("ocais_vector_stage")
#: Filters estimated within this factor of exact_threshold are counted before choosing a plan.
ESTIMATE_MARGIN = 2


def _register_vector(dbapi_connection: Any, _record: Any) -> None:
    from pgvector.psycopg import register_vector

    register_vector(dbapi_connection)


class PgVectorIndex:
    """Vector collections in the PostgreSQL database at ``url`` (needs the pgvector extension)."""

    name: ClassVar[str] = "pgvector"

    def __init__(
        self,
        url: str,
        options: VectorIndexOptions | None = None,
        *,
        maintenance_work_mem: str = "1GB",
        build_workers: int = 1,
    ) -> None:
        try:
            import pgvector.psycopg  # noqa: F401  (the vector type adapter, used on connect)
        except ImportError as exc:
            raise StoreError(
                "the pgvector backend needs the pgvector Python package",
                hint="pip install pgvector",
            ) from exc
        self._options = options or VectorIndexOptions()
        self._maintenance_work_mem = maintenance_work_mem
        self._build_workers = build_workers
        self._engine = connect(url)
        if self._engine.dialect.name != "postgresql":
            self._engine.dispose()
            raise VectorIndexError(
                f"the pgvector backend needs a PostgreSQL URL, not {self._engine.url.drivername}",
                hint="use the embedded vector index with SQLite stores",
            )
        try:
            with self._engine.begin() as conn:
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({q.REGISTRY_LOCK})")
                conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS vector")
                conn.exec_driver_sql(q.CREATE_REGISTRY.as_string(None))
        except SQLAlchemyError as exc:
            self._engine.dispose()
            raise StoreError(
                f"cannot set up pgvector in {self._engine.url.render_as_string()}: {exc}",
                hint="install pgvector on the server, and let the user CREATE EXTENSION vector",
            ) from exc
        # Connections made from now on know the vector type (the extension exists now).
        self._engine.dispose()
        event.listen(self._engine, "connect", _register_vector)

    @property
    def options(self) -> VectorIndexOptions:
        return self._options

    @contextmanager
    def _cursor(self) -> Iterator[psycopg.Cursor[Any]]:
        """A cursor in one transaction: committed on exit, rolled back on any error."""
        raw = self._engine.raw_connection()
        try:
            conn: psycopg.Connection[Any] = raw.driver_connection  # type: ignore[assignment]
            try:
                with conn.transaction(), conn.cursor() as cursor:
                    yield cursor
            except psycopg.Error as exc:
                raise StoreError(
                    f"vector index query failed: {exc.__class__.__name__}: {exc}",
                    hint="check the server log; the transaction was rolled back",
                ) from exc
        finally:
            raw.close()

    # -- collections ---------------------------------------------------------------------------

    def _registered(
        self, cursor: psycopg.Cursor[Any], name: str, *, lock: bool = False
    ) -> tuple[CollectionSpec, int, bool]:
        check_name(name)
        cursor.execute(
            sql.SQL("SELECT spec, n_rows, ann_index FROM {} WHERE name = %s{}").format(
                q.REGISTRY, sql.SQL(" FOR UPDATE" if lock else "")
            ),
            (name,),
        )
        row = cursor.fetchone()
        if row is None:
            raise NotFoundError(
                f"no vector collection {name!r} in this database",
                hint="create it first with create_collection",
            )
        spec = row[0] if isinstance(row[0], dict) else json.loads(row[0])
        return CollectionSpec.model_validate(spec), int(row[1]), bool(row[2])

    def create_collection(self, spec: CollectionSpec) -> None:
        with self._cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (q.REGISTRY_LOCK,))
            try:
                existing, _, _ = self._registered(cursor, spec.name)
            except NotFoundError:
                for statement in q.create_table(spec):
                    cursor.execute(statement)
                cursor.execute(
                    sql.SQL("INSERT INTO {} (name, spec) VALUES (%s, %s)").format(q.REGISTRY),
                    (spec.name, json.dumps(spec.model_dump(mode="json"))),
                )
                return
            if existing != spec:
                raise spec_mismatch(existing, spec)

    def get_collection(self, name: str) -> CollectionSpec:
        with self._cursor() as cursor:
            return self._registered(cursor, name)[0]

    def list_collections(self) -> list[str]:
        with self._cursor() as cursor:
            cursor.execute(sql.SQL("SELECT name FROM {} ORDER BY name").format(q.REGISTRY))
            return [row[0] for row in cursor.fetchall()]

    def drop_collection(self, name: str) -> None:
        with self._cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (q.REGISTRY_LOCK,))
            try:
                self._registered(cursor, name, lock=True)
            except NotFoundError:
                return
            cursor.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(q.table(name)))
            cursor.execute(sql.SQL("DELETE FROM {} WHERE name = %s").format(q.REGISTRY), (name,))

    # -- writes --------------------------------------------------------------------------------

    def upsert(
        self,
        collection: str,
        ids: Sequence[str],
        vectors: np.ndarray,
        metadata: Sequence[Mapping[str, MetadataValue]] | None = None,
    ) -> int:
        spec = self.get_collection(collection)
        id_list = check_ids(ids)
        array = check_vectors(spec, vectors, len(id_list))
        columns = check_metadata(spec, metadata, len(id_list))
        if not id_list:
            return 0
        keys = list(spec.metadata_keys)
        with self._cursor() as cursor:
            _, n_rows, indexed = self._registered(cursor, collection, lock=True)
            cursor.execute(
                sql.SQL(
                    "CREATE TEMP TABLE {stage} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DROP"
                ).format(stage=STAGE, table=q.table(collection))
            )
            copy_sql = sql.SQL("COPY {} (id, embedding{}) FROM STDIN WITH (FORMAT BINARY)")
            types = spec.key_types()
            with cursor.copy(copy_sql.format(STAGE, q.select_columns(spec))) as copy:
                copy.set_types(["text", "vector"] + [q.COPY_TYPES[types[key]] for key in keys])
                for row, id_ in enumerate(id_list):
                    copy.write_row([id_, array[row], *(columns[key][row] for key in keys)])
            cursor.execute(q.upsert_from_stage(spec, STAGE))
            written, inserted = cursor.fetchone() or (0, 0)
            n_rows += int(inserted)
            self._set_rows(cursor, collection, n_rows)
        if self._options.auto_index and not indexed and n_rows > self._options.exact_threshold:
            self.build_index(collection)
        return int(written)

    def _set_rows(self, cursor: psycopg.Cursor[Any], collection: str, n_rows: int) -> None:
        cursor.execute(
            sql.SQL("UPDATE {} SET n_rows = %s WHERE name = %s").format(q.REGISTRY),
            (n_rows, collection),
        )

    def delete(self, collection: str, ids: Sequence[str]) -> int:
        id_list = check_ids(ids, allow_duplicates=True)
        with self._cursor() as cursor:
            _, n_rows, _ = self._registered(cursor, collection, lock=True)
            cursor.execute(
                sql.SQL("DELETE FROM {} WHERE id = ANY(%s::text[])").format(q.table(collection)),
                (id_list,),
            )
            deleted = cursor.rowcount
            self._set_rows(cursor, collection, n_rows - deleted)
            return deleted

    def build_index(self, collection: str) -> None:
        """(Re)build the HNSW index, then ``ANALYZE`` (bulk-load first: building is faster)."""
        with self._cursor() as cursor:
            spec, _, _ = self._registered(cursor, collection, lock=True)
            cursor.execute(
                "SELECT set_config('maintenance_work_mem', %s, true),"
                " set_config('max_parallel_maintenance_workers', %s, true)",
                (self._maintenance_work_mem, str(self._build_workers)),
            )
            cursor.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(q.hnsw_index(collection)))
            cursor.execute(
                q.create_hnsw(spec, self._options.hnsw_m, self._options.hnsw_ef_construction)
            )
            cursor.execute(sql.SQL("ANALYZE {}").format(q.table(collection)))
            cursor.execute(
                sql.SQL("UPDATE {} SET ann_index = true WHERE name = %s").format(q.REGISTRY),
                (collection,),
            )

    # -- reads ---------------------------------------------------------------------------------

    def count(self, collection: str, filters: Filters | None = None) -> int:
        with self._cursor() as cursor:
            spec, _, _ = self._registered(cursor, collection)
            where_sql, params = q.where(check_filters(spec, filters), None)
            cursor.execute(
                sql.SQL("SELECT count(*) FROM {}{}").format(q.table(collection), where_sql), params
            )
            row = cursor.fetchone()
            return int(row[0]) if row else 0

    def _plan(
        self,
        cursor: psycopg.Cursor[Any],
        spec: CollectionSpec,
        n_rows: int,
        indexed: bool,
        where: tuple[sql.Composable, list[Any]],
        k: int,
        exact: bool,
    ) -> SearchPlan:
        matching = n_rows
        threshold = self._options.exact_threshold
        if where[1] and not exact:
            # The statistics' estimate first (EXPLAIN, ~1 ms), and a real count only where the
            # choice hinges on it: counting costs as much as the exact search itself (both read
            # the matching rows' heap pages: ~80 ms for 8,000 of 1M rows), and a LIMIT-capped
            # count makes PostgreSQL prefer a sequential scan of every vector. A wrong estimate
            # costs time, never results: the ANN path falls back to exact below k hits.
            matching = self._estimate(cursor, spec, where)
            if threshold // ESTIMATE_MARGIN < matching <= threshold * ESTIMATE_MARGIN:
                cursor.execute(
                    sql.SQL("SELECT count(*) FROM {}{}").format(q.table(spec.name), where[0]),
                    where[1],
                )
                row = cursor.fetchone()
                matching = int(row[0]) if row else 0
        return plan_search(
            total_rows=n_rows,
            matching_rows=min(matching, n_rows),
            k=k,
            options=self._options,
            has_index=indexed,
            exact=exact,
        )

    @staticmethod
    def _estimate(
        cursor: psycopg.Cursor[Any], spec: CollectionSpec, where: tuple[sql.Composable, list[Any]]
    ) -> int:
        """The planner's row estimate for the filters (from ``ANALYZE`` statistics)."""
        cursor.execute(
            sql.SQL("EXPLAIN (FORMAT JSON) SELECT 1 FROM {}{}").format(
                q.table(spec.name), where[0]
            ),
            where[1],
        )
        row = cursor.fetchone()
        plan = row[0] if row else None
        if isinstance(plan, str):
            plan = json.loads(plan)
        return int(plan[0]["Plan"]["Plan Rows"]) if plan else 0

    def plan(
        self,
        collection: str,
        k: int = 10,
        *,
        filters: Filters | None = None,
        restrict_to: Sequence[str] | None = None,
        exact: bool = False,
    ) -> SearchPlan:
        with self._cursor() as cursor:
            spec, n_rows, indexed = self._registered(cursor, collection)
            where = q.where(check_filters(spec, filters), check_restrict_to(restrict_to))
            return self._plan(cursor, spec, n_rows, indexed, where, check_k(k), exact)

    def search(
        self,
        collection: str,
        vector: np.ndarray,
        k: int = 10,
        *,
        filters: Filters | None = None,
        restrict_to: Sequence[str] | None = None,
        exact: bool = False,
    ) -> list[VectorHit]:
        k = check_k(k)
        with self._cursor() as cursor:
            spec, n_rows, indexed = self._registered(cursor, collection)
            query = check_query(spec, vector)
            where = q.where(check_filters(spec, filters), check_restrict_to(restrict_to))
            plan = self._plan(cursor, spec, n_rows, indexed, where, k, exact)
            if plan.method == "ann":
                hits = self._ann(cursor, spec, query, k, where, plan)
                if len(hits) >= min(k, plan.matching_rows):
                    return hits
            return self._exact(cursor, spec, query, k, where)

    def _hits(self, cursor: psycopg.Cursor[Any], spec: CollectionSpec) -> list[VectorHit]:
        keys = spec.metadata_keys
        return [
            VectorHit(
                id=row[0],
                score=q.score_of(spec.metric, float(row[1])),
                metadata=dict(zip(keys, row[2:], strict=True)),
            )
            for row in cursor.fetchall()
        ]

    def _ann(
        self,
        cursor: psycopg.Cursor[Any],
        spec: CollectionSpec,
        query: np.ndarray,
        k: int,
        where: tuple[sql.Composable, list[Any]],
        plan: SearchPlan,
    ) -> list[VectorHit]:
        cursor.execute("SELECT set_config('hnsw.ef_search', %s, true)", (str(plan.ef_search),))
        candidates = plan.candidates if where[1] else k
        cursor.execute(q.ann_search(spec, where[0]), [query, query, candidates, *where[1], k])
        return self._hits(cursor, spec)

    def _exact(
        self,
        cursor: psycopg.Cursor[Any],
        spec: CollectionSpec,
        query: np.ndarray,
        k: int,
        where: tuple[sql.Composable, list[Any]],
    ) -> list[VectorHit]:
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute(q.exact_search(spec, where[0]), [query, *where[1], k])
        return self._hits(cursor, spec)

    def close(self) -> None:
        self._engine.dispose()
