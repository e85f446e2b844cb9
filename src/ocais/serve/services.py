"""What a request needs: the installation's use-case services (``ocais.workflows``) plus the
web-only parts (accounts, rate limits, the audit/prediction writer). Built once per app from
settings by :func:`build_app_services`; no module-level state."""

from __future__ import annotations

from dataclasses import dataclass

from ocais.config import Settings
from ocais.knowledge import KnowledgeBase
from ocais.serve.accounts import Accounts
from ocais.serve.outcomes import FeedbackService
from ocais.serve.predicting import PredictionService, TextExtractor
from ocais.serve.ratelimit import TokenBucketLimiter
from ocais.serve.settings import ServeSettings
from ocais.serve.writer import GroupCommitWriter
from ocais.store.service_repo import ServiceRepository
from ocais.workflows import Services as CoreServices
from ocais.workflows.cases import NoteScrubber
from ocais.workflows.types import Predictor, Repository


@dataclass
class Services:
    core: CoreServices
    serve: ServeSettings
    store: ServiceRepository
    accounts: Accounts
    predictions: PredictionService
    feedback: FeedbackService
    scrubber: NoteScrubber | None
    limiter: TokenBucketLimiter
    login_limiter: TokenBucketLimiter
    writer: GroupCommitWriter

    @property
    def settings(self) -> Settings:
        return self.core.settings

    @property
    def knowledge(self) -> KnowledgeBase:
        return self.core.knowledge

    @property
    def repo(self) -> Repository:
        return self.core.repo

    @property
    def search_available(self) -> bool:
        return self.core.search_or_none() is not None

    def close(self) -> None:
        self.writer.close()
        self.core.close()


def build_app_services(
    core: CoreServices,
    serve: ServeSettings,
    *,
    predictor: Predictor | None,
    extractor: TextExtractor | None,
    scrubber: NoteScrubber | None,
) -> Services:
    """The web service's parts around ``core``; the predictor is built by ``core`` (settings'
    ``OCAIS_SERVE_PREDICTOR`` / ``OCAIS_SERVE_MODEL_DIR``) unless one is given."""
    store = core.owners
    chosen = predictor or core.predictor(serve.predictor, model_dir=serve.model_dir)
    writer = GroupCommitWriter(store)
    services = Services(
        core=core,
        serve=serve,
        store=store,
        accounts=Accounts(
            store, cache_seconds=serve.auth_cache_seconds, session_hours=serve.session_hours
        ),
        predictions=PredictionService(
            chosen,
            core.knowledge,
            extractor=extractor,
            max_text_chars=serve.max_text_chars,
            max_top_k=serve.max_top_k,
            cache_size=serve.prediction_cache_size,
            core=core,
        ),
        feedback=FeedbackService(store, core.knowledge, max_comment_chars=serve.max_comment_chars),
        scrubber=scrubber,
        limiter=TokenBucketLimiter(serve.rate_limit_per_minute, serve.rate_limit_burst),
        login_limiter=TokenBucketLimiter(serve.login_attempts_per_minute, 5),
        writer=writer,
    )
    writer.start()
    return services
