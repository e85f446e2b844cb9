"""Small parts on their own: the token bucket and the group-commit writer."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ocais.errors import StoreError
from ocais.serve.ratelimit import TokenBucketLimiter, retry_after_seconds
from ocais.serve.writer import GroupCommitWriter
from ocais.store import Repository
from ocais.store.service_models import PredictionRecord
from ocais.store.service_repo import ServiceRepository


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket() -> None:
    clock = Clock()
    limiter = TokenBucketLimiter(60, 2, clock=clock)  # one token per second, burst 2
    assert limiter.take("a") is None and limiter.take("a") is None
    wait = limiter.take("a")
    assert wait == pytest.approx(1.0)
    assert limiter.take("b") is None  # buckets are per key
    clock.now = 0.5
    assert limiter.take("a") == pytest.approx(0.5)
    clock.now = 1.01
    assert limiter.take("a") is None
    assert retry_after_seconds(0.2) == 1 and retry_after_seconds(2.1) == 3
    with pytest.raises(ValueError):
        TokenBucketLimiter(0, 1)


def record(user_id: str | None) -> PredictionRecord:
    return PredictionRecord(
        id=str(uuid.uuid4()),
        user_id=user_id,
        created_at=datetime.now(UTC),
        input_kind="case",
        observed=["HP:0001250"],
        excluded=[],
        sex="unknown",
        age_years=None,
        top_k=10,
        predictor="phenotype",
        knowledge_version="x",
        candidates=[],
    )


@pytest.fixture
def store(tmp_path: Path) -> ServiceRepository:
    repo = Repository.open(f"sqlite:///{tmp_path / 'w.db'}")
    return ServiceRepository(repo.engine)


def test_group_commit_writes_everything_from_many_threads(store: ServiceRepository) -> None:
    writer = GroupCommitWriter(store)
    writer.start()
    entry = {
        "at": datetime.now(UTC),
        "user_id": None,
        "action": "x",
        "method": "GET",
        "status": 200,
        "request_id": "r",
        "object_ids": {},
        "duration_ms": 1.0,
    }

    def work() -> None:
        for _ in range(25):
            writer.write_prediction(record(None))
            writer.write_audit(entry)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    assert store.count_predictions() == 200
    assert len(store.list_audit(limit=1000)) == 200


def test_group_commit_fails_only_the_bad_row(store: ServiceRepository) -> None:
    writer = GroupCommitWriter(store)
    writer.start()
    errors: list[Exception] = []
    barrier = threading.Barrier(6)

    def work(user_id: str | None) -> None:
        barrier.wait()
        try:
            writer.write_prediction(record(user_id))
        except StoreError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(None,)) for _ in range(5)]
    threads.append(threading.Thread(target=work, args=("no-such-user",)))  # FK violation
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    assert len(errors) == 1 and store.count_predictions() == 5
    # a stopped writer still writes (directly) and still raises
    writer.write_prediction(record(None))
    with pytest.raises(StoreError):
        writer.write_prediction(record("no-such-user"))
    assert store.count_predictions() == 6
