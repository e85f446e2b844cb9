"""``make_screenshots.py`` still runs: a realistic session on the default knowledge base."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import PHENOPACKET_ARCHIVE, require

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_screenshots_of_a_realistic_session(browser: Browser, tmp_path: Path) -> None:
    require(PHENOPACKET_ARCHIVE)
    from tests.browser.make_screenshots import take

    written = take(tmp_path / "shots", tmp_path / "work", browser)
    assert [p.name for p in written] == ["chat-desktop.png", "chat-phone.png", "chat-genes.png"]
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size > 20_000
