"""``POST /api/v1/studies`` (researchers): run a comparative-effectiveness study on this site's
records; ``/studies``: the page researchers run and read them on. Through
``ocais.workflows.research``; the estimate is withheld when the study's diagnostics fail."""

from __future__ import annotations

import html
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ocais.errors import ConfigError
from ocais.serve.deps import Researcher, ServicesDep, audit
from ocais.serve.errors import ApiError
from ocais.serve.schemas.common import ERROR_RESPONSES
from ocais.workflows.research import EXAMPLE, EXAMPLE_YAML, REPORT_FILE, parse_study, run_study

router = APIRouter(prefix="/studies", tags=["research"], responses=ERROR_RESPONSES)
page_router = APIRouter(include_in_schema=False)
MAX_DEFINITION = 20_000


class StudyRequest(BaseModel):
    definition: str = Field(
        min_length=1,
        max_length=MAX_DEFINITION,
        description=f"The study as YAML (or JSON), as in {EXAMPLE}",
    )


@router.post("", name="studies.run")
async def run(
    body: StudyRequest, request: Request, services: ServicesDep, principal: Researcher
) -> dict[str, Any]:
    """Run a study: attrition, the naive and the adjusted hazard ratio, the diagnostics (the
    estimate is null when one fails, with the reasons), and the report as HTML."""
    try:
        study = parse_study(body.definition, "the definition")
    except ConfigError as exc:
        raise ApiError(422, "invalid_study", exc.message, hint=exc.hint) from exc
    audit(request, study=study.name)
    with tempfile.TemporaryDirectory(prefix="ocais-study-") as folder:
        out = Path(folder)
        done = await run_in_threadpool(run_study, services.core, study, out)
        report = out / REPORT_FILE
        shown = report.read_text(encoding="utf-8") if report.is_file() else None
    return {**done.result, "report_html": shown}


@page_router.get("/studies", name="studies.page")
def page() -> HTMLResponse:
    """The study page (sign in on the main page first; researchers and admins)."""
    return HTMLResponse(_PAGE.replace("{example}", html.escape(EXAMPLE_YAML, quote=False)))


_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>OCAIS studies</title><style>
body{font:15px/1.5 system-ui,sans-serif;max-width:70rem;margin:1.5rem auto;padding:0 1rem}
textarea{width:100%;height:18rem;font:13px/1.4 ui-monospace,monospace}
button{padding:.4rem 1rem;margin:.5rem 0}.withheld{color:#a00}.passed{color:#070}
iframe{width:100%;height:70rem;border:1px solid #ccc}
</style></head><body><h1>Comparative-effectiveness studies on this site's records</h1>
<p>For researchers: sign in on the <a href="/">main page</a> first. The estimate is withheld
when the study's diagnostics (balance, equipoise, power, systematic error) fail.</p>
<label for="definition">Study definition (YAML)</label>
<textarea id="definition">{example}</textarea>
<button id="run" type="button">Run the study</button>
<p id="status" role="status"></p><iframe id="report" title="Study report" sandbox></iframe>
<script type="module">
const status = document.getElementById("status");
document.getElementById("run").addEventListener("click", async () => {
  status.textContent = "Running…";
  const csrf = (document.cookie.match(/(?:^|; )ocais_csrf=([^;]+)/) || [])[1] || "";
  const response = await fetch("/api/v1/studies", {
    method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-CSRF-Token": decodeURIComponent(csrf)},
    body: JSON.stringify({definition: document.getElementById("definition").value}),
  });
  const body = await response.json();
  if (!response.ok) {
    status.textContent = (body.error || {}).message || response.statusText;
    return;
  }
  const d = body.diagnostics || {};
  status.className = body.estimate ? "passed" : "withheld";
  const e = body.estimate;
  const f = (x) => x.toFixed(2);
  status.textContent = e
    ? `Adjusted HR ${f(e.hr)} (95% CI ${f(e.ci[0])}–${f(e.ci[1])})`
    : "Estimate withheld: " + (d.reasons || []).join("; ");
  document.getElementById("report").srcdoc = body.report_html || "";
});
</script></body></html>
"""
