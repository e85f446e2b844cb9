"""The pieces every HTML report page shares: the document shell, its style and inline images.

Pages are self-contained (plots are base64 PNGs; nothing is loaded from elsewhere), so a report
can be mailed or archived as one file.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

PAGE_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f2f2f2; } td.text, th.text { text-align: left; }
img { max-width: 100%; } .note { color: #555; font-size: 0.9em; }
"""
DEFINITION_LIST_CSS = """
dl { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; }
dt { font-weight: 600; } dd { margin: 0; }
"""


def page(title: str, body: str, extra_css: str = "") -> str:
    """A whole HTML document: ``title`` (escaped here), ``body`` (HTML), the shared style."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n"
        f"<style>{PAGE_CSS}{extra_css}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def image(data: str, alt: str = "plot") -> str:
    """An inline PNG (base64 ``data``) with its alternative text."""
    return f'<img src="data:image/png;base64,{data}" alt="{escape(alt)}">'


def write_page(html: str, path: str | Path) -> Path:
    """Write a page to ``path`` (parents created); returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(html, encoding="utf-8")
    return target
