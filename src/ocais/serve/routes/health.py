"""``/api/v1/health`` (no authentication) and ``/api/v1/version``."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from ocais import __version__
from ocais.serve.deps import CurrentUser, ServicesDep

router = APIRouter(tags=["service"])


class Health(BaseModel):
    status: str


class Version(BaseModel):
    software: str
    api: str
    knowledge: dict[str, str]
    predictor: str
    features: dict[str, bool]
    store_revision: str | None


@router.get("/health", name="health", response_model=Health)
def health() -> Health:
    """Liveness: the process answers. No authentication, no data."""
    return Health(status="ok")


@router.get("/version", name="version", response_model=Version)
def version(services: ServicesDep, principal: CurrentUser) -> Version:
    """Software, API and knowledge versions, the predictor, and which features are on."""
    return Version(
        software=f"ocais {__version__}",
        api="v1",
        knowledge=services.knowledge.release,
        predictor=str(getattr(services.predictions.predictor, "name", "unknown")),
        features={
            "free_text": services.predictions.extractor is not None,
            "search": services.search_available,
            "note_deidentification": services.scrubber is not None,
        },
        store_revision=services.repo.schema_revision(),
    )
