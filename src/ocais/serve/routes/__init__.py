"""The API's routers, one module per resource; each route is a thin call into the library."""

from __future__ import annotations

from fastapi import APIRouter

from ocais.serve.middleware import API_PREFIX


def api_router() -> APIRouter:
    """All v1 routes under ``/api/v1``."""
    from ocais.serve.routes import (
        audit,
        cases,
        explanations,
        feedback,
        health,
        knowledge,
        letters,
        packages,
        predict,
        predictions,
        reports,
        search,
        session,
        studies,
        users,
    )

    api = APIRouter(prefix=API_PREFIX)
    # routes are matched in this order: the busiest first (predict), health checks next
    for module in (
        predict,
        health,
        session,
        cases,
        search,
        knowledge,
        feedback,
        predictions,
        letters,
        explanations,
        reports,
        users,
        audit,
        packages,
        studies,
    ):
        api.include_router(module.router)
    return api
