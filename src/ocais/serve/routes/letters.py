"""``POST /api/v1/letters``: a referral letter in Markdown from a note or a phenopacket."""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from pydantic import Field, model_validator
from starlette.concurrency import run_in_threadpool

from ocais.schemas import Sex
from ocais.serve.deps import Clinician, ServicesDep, audit
from ocais.serve.schemas.common import ERROR_RESPONSES, Strict
from ocais.serve.schemas.predict import CaseInput
from ocais.workflows.cases import read_phenopacket
from ocais.workflows.genai import write_letter_for_case, write_letter_for_text

router = APIRouter(tags=["letters"], responses=ERROR_RESPONSES)


class LetterRequest(Strict):
    """A clinical note (de-identified before anything reads it) or a phenopacket."""

    text: str | None = Field(default=None, max_length=50_000, description="A clinical note")
    case: CaseInput | None = Field(
        default=None,
        description="Findings the clinician confirmed, sex and age (with or without text)",
    )
    phenopacket: dict[str, Any] | None = Field(default=None, description="A phenopacket (v2)")

    @model_validator(mode="after")
    def _one_input(self) -> LetterRequest:
        if self.phenopacket is not None and (self.text is not None or self.case is not None):
            raise ValueError("give a phenopacket, or text and/or case, not both")
        if self.phenopacket is None and self.text is None and self.case is None:
            raise ValueError("give text, case or phenopacket")
        if self.text is not None and not self.text.strip() and self.case is None:
            raise ValueError("text is empty: paste the clinical note")
        return self


@router.post("/letters", name="write_letter")
async def write_letter(
    body: LetterRequest, request: Request, services: ServicesDep, principal: Clinician
) -> dict[str, Any]:
    """A referral letter (``markdown``) with the computed differential: written by the site's
    LLM when one is configured (``source: llm``, the model named), from a template otherwise.
    Names, record numbers, dates and contacts in the input never reach the letter. Nothing is
    stored; the request is audited without its text."""
    core = services.core
    audit(request)
    if body.phenopacket is not None:
        case = read_phenopacket(core, body.phenopacket)
        letter = await run_in_threadpool(write_letter_for_case, core, case)
    else:
        given = body.case
        letter = await run_in_threadpool(
            partial(
                write_letter_for_text,
                core,
                body.text or "",
                sex=given.sex if given else Sex.UNKNOWN,
                age_years=given.age_years if given else None,
                findings=[(p.id, p.excluded) for p in given.phenotypes] if given else (),
            )
        )
    return letter.as_dict()
