"""The use cases, one function each, between the domain packages and the shells.

The CLI (``ocais.cli``) and the API (``ocais.serve``) call only these: they parse input and format
output. This is the one place that composes knowledge, store, search and predictors
(:func:`build_services`) and that applies the access rules (:mod:`ocais.workflows.access`).
See ``docs/decisions/0008-use-case-layer.md``.
"""

from ocais.workflows.access import OPERATOR, Actor, CaseAccess, Operator
from ocais.workflows.services import Services, build_services

__all__ = ["OPERATOR", "Actor", "CaseAccess", "Operator", "Services", "build_services"]
