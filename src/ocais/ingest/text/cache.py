"""The compiled dictionary on disk (JSON), keyed by the HPO release and the matching code.

Building the dictionary of a full HPO release takes about a second (more on a busy machine);
loading it back takes a tenth of that. The file name holds a hash of the release's content hash,
the recognizer's options, and the source of the modules that decide what a key is, so a change to
any of them never reads a stale dictionary. A cache that cannot be written (read-only disk) is
skipped; a damaged one is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ocais.ingest.text import abbreviations as abbreviations_module
from ocais.ingest.text import normalize as normalize_module
from ocais.ingest.text.abbreviations import Abbreviation

FORMAT = 1


def cache_key(
    content_hash: str,
    roots: Sequence[str] | None,
    abbreviations: Iterable[Abbreviation],
    builder_source: Path,
) -> str:
    """Hash of everything the dictionary depends on (``builder_source``: the recognizer module)."""
    digest = hashlib.sha256()
    options = {
        "format": FORMAT,
        "release": content_hash,
        "roots": None if roots is None else list(roots),
        "abbreviations": [
            [a.text, a.term_id, sorted(a.requires), sorted(a.forbids)] for a in abbreviations
        ],
    }
    digest.update(json.dumps(options, sort_keys=True).encode())
    for module_file in (normalize_module.__file__, abbreviations_module.__file__, builder_source):
        if module_file is not None:
            digest.update(Path(module_file).read_bytes())
    return digest.hexdigest()[:24]


def load_state(path: Path) -> dict[str, Any] | None:
    """The saved dictionary, or None if there is none or it cannot be read."""
    try:
        state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) and state.get("format") == FORMAT else None


def save_state(path: Path, state: dict[str, Any]) -> None:
    """Write atomically (a temporary file, then a rename); give up quietly if not writable."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({**state, "format": FORMAT}), encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass  # a read-only cache still works: the dictionary is rebuilt next time
