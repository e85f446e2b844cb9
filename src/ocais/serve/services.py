"""Everything a request needs, built once per app from settings: no module-level state."""

from __future__ import annotations

from dataclasses import dataclass

from ocais.config import Settings
from ocais.knowledge import KnowledgeBase
from ocais.predict.base import Predictor, create_predictor
from ocais.search.service import SearchService
from ocais.serve.accounts import Accounts
from ocais.serve.casework import CaseService, NoteScrubber
from ocais.serve.outcomes import FeedbackService
from ocais.serve.predicting import PredictionService, TextExtractor
from ocais.serve.ratelimit import TokenBucketLimiter
from ocais.serve.searching import SearchAdapter
from ocais.serve.settings import ServeSettings
from ocais.serve.writer import GroupCommitWriter
from ocais.store import Repository
from ocais.store.service_repo import ServiceRepository


@dataclass
class Services:
    settings: Settings
    serve: ServeSettings
    knowledge: KnowledgeBase
    repo: Repository
    store: ServiceRepository
    accounts: Accounts
    predictions: PredictionService
    cases: CaseService
    feedback: FeedbackService
    search: SearchAdapter | None
    limiter: TokenBucketLimiter
    login_limiter: TokenBucketLimiter
    writer: GroupCommitWriter
    owns_repo: bool

    def close(self) -> None:
        self.writer.close()
        if self.owns_repo:
            self.repo.close()


def build_services(
    settings: Settings,
    serve: ServeSettings,
    *,
    knowledge: KnowledgeBase,
    repo: Repository,
    owns_repo: bool,
    predictor: Predictor | None,
    search: SearchService | None,
    extractor: TextExtractor | None,
    scrubber: NoteScrubber | None,
) -> Services:
    store = ServiceRepository(repo.engine)
    writer = GroupCommitWriter(store)
    if predictor is not None:
        chosen = predictor
    elif serve.model_dir is not None:
        chosen = create_predictor(serve.predictor, knowledge, model_dir=serve.model_dir)
    else:
        chosen = create_predictor(serve.predictor, knowledge)
    adapter = SearchAdapter(search) if search is not None else None
    services = Services(
        settings=settings,
        serve=serve,
        knowledge=knowledge,
        repo=repo,
        store=store,
        accounts=Accounts(
            store, cache_seconds=serve.auth_cache_seconds, session_hours=serve.session_hours
        ),
        predictions=PredictionService(
            chosen,
            knowledge,
            extractor=extractor,
            max_text_chars=serve.max_text_chars,
            max_top_k=serve.max_top_k,
            cache_size=serve.prediction_cache_size,
        ),
        cases=CaseService(
            repo, store, knowledge, site=settings.site, scrubber=scrubber, index=adapter
        ),
        feedback=FeedbackService(store, knowledge, max_comment_chars=serve.max_comment_chars),
        search=adapter,
        limiter=TokenBucketLimiter(serve.rate_limit_per_minute, serve.rate_limit_burst),
        login_limiter=TokenBucketLimiter(serve.login_attempts_per_minute, 5),
        writer=writer,
        owns_repo=owns_repo,
    )
    writer.start()
    return services
