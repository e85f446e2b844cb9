"""The page: ``static/index.html`` if present (the chat page), else a short placeholder."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, Response

STATIC_DIR = Path(__file__).resolve().parent / "static"

PLACEHOLDER = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>OCAIS</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40em; margin: 3em auto">
<h1>OCAIS</h1>
<p>The service is running. The API is under <code>/api/v1</code>; its documentation is at
<a href="/docs">/docs</a>.</p>
<p>Differential diagnosis support: it supports, and does not replace, clinical judgement.</p>
</body></html>
"""

router = APIRouter(include_in_schema=False)


@router.get("/", name="page")
def page() -> Response:
    index = STATIC_DIR / "index.html"
    if index.is_file():
        return FileResponse(index, media_type="text/html")
    return HTMLResponse(PLACEHOLDER)
