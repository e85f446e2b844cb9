"""``ocais cases share``: reference cases every clinician may read."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import Cli
from tests.helpers import packet


def test_share_and_unshare_cases(cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "in"
    source.mkdir()
    for name in ("A", "B"):
        (source / f"{name}.json").write_text(json.dumps(packet(name)))
    assert cli("ingest", str(source)).exit_code == 0
    ids = [c["id"] for c in cli.json("cases", "list")["cases"]]
    assert cli.json("cases", "share", *ids) == {"changed": 2, "shared": True}
    assert cli.json("cases", "share", ids[0]) == {"changed": 0, "shared": True}
    assert cli.json("cases", "share", ids[0], "--unshare") == {"changed": 1, "shared": False}
    missing = cli("cases", "share", "no-such-case")
    assert missing.exit_code == 2 and "not_found" in missing.stderr
    shared_import = cli.json("ingest", str(source), "--shared")
    assert shared_import["n_unchanged"] == 2 and shared_import["indexed"] == 2
