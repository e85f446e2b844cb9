"""What the page writes from a differential, in a real browser: the explanation (streamed as it is
written) and the referral letter's editor. The live app has no language model, so both come from
templates; a model's answer and an error are played by routes the page cannot tell apart.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import pytest

from tests.browser.server import PHONE
from tests.browser.test_chat_page import (
    CASE_TEXT,
    expect,
    login,
    no_horizontal_scroll,
    send_case,
    wait_for_update,
)

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page, Route

    from tests.browser.conftest import PageFactory

pytestmark = pytest.mark.browser

NO_MODEL = "From the evidence (no language model configured)"
NOTE_WITH_IDENTIFIERS = (
    "Jane Doe, MRN 12345678, seen on 03/04/2024, phone 555-123-4567. "
    "Recurrent seizures, no poor vision."
)


def explain(reply: Locator) -> Locator:
    """Press Explain and return the explanation's panel."""
    reply.get_by_role("button", name="Explain", exact=True).click()
    panel = reply.get_by_role("region", name="Explanation")
    expect(panel).to_be_visible()
    return panel


def open_letter(page: Page, reply: Locator) -> Locator:
    reply.get_by_role("button", name="Write letter").click()
    dialog = page.get_by_role("dialog", name="Referral letter")
    expect(dialog).to_be_visible()
    return dialog


def test_explain_shows_the_template_explanation(page: Page) -> None:
    login(page)
    reply = send_case(page)
    button = reply.get_by_role("button", name="Explain", exact=True)
    panel = explain(reply)
    expect(panel.locator(".explain__text")).to_contain_text(
        re.compile(r"^1\. Disease A \(56\.4%\): matches Seizure\.$", re.M)
    )
    expect(panel.locator(".explain__text")).to_contain_text("2. Disease B (26.0%)")
    expect(panel).to_contain_text(NO_MODEL)
    expect(panel).not_to_have_attribute("aria-busy", "true")
    expect(button).not_to_have_attribute("aria-disabled", "true")
    expect(button).to_be_focused()
    expect(page.locator("#announcer")).to_contain_text("Explanation written.")
    # the differential stays as it was
    expect(reply.locator(".candidate").first).to_have_attribute("data-disease", "OMIM:100001")

    # a new ranking makes the explanation obsolete: it goes
    reply.get_by_role("button", name="Mark Visual impairment as present").click()
    wait_for_update(reply, "Visual impairment: present")
    expect(panel).to_be_hidden()
    panel = explain(reply)
    expect(panel.locator(".explain__text")).to_contain_text(re.compile(r"^1\. Disease A \(7\d"))


def test_explain_names_the_model_streams_text_only_and_shows_errors(page: Page) -> None:
    login(page)
    reply = send_case(page)
    sent: list[dict[str, object]] = []

    def model_answer(route: Route) -> None:
        sent.append(json.loads(route.request.post_data or "{}"))
        route.fulfill(
            status=200,
            headers={"Content-Type": "text/plain; charset=utf-8", "X-OCAIS-Model": "tiny-llm"},
            body="Disease A fits <b>best</b>: seizures match.\nDisease B is less likely.",
        )

    page.route("**/api/v1/explanations", model_answer)
    panel = explain(reply)
    expect(panel).to_contain_text("Written by tiny-llm from the evidence")
    text = panel.locator(".explain__text")
    expect(text).to_contain_text("Disease A fits <b>best</b>: seizures match.")
    expect(text.locator("b")).to_have_count(0)  # model output is text, never markup
    # the same case as the differential, not the text
    assert sent == [
        {
            "case": {
                "phenotypes": [
                    {"id": "HP:0001250", "excluded": False},
                    {"id": "HP:0000505", "excluded": True},
                ],
                "sex": "unknown",
                "age_years": None,
            },
            "top_k": 10,
        }
    ]

    page.unroute("**/api/v1/explanations")
    page.route(
        "**/api/v1/explanations",
        lambda route: route.fulfill(
            status=429,
            content_type="application/json",
            body=json.dumps(
                {
                    "error": {
                        "code": "rate_limited",
                        "message": "too many requests",
                        "hint": "wait a minute and try again",
                        "request_id": "req-explain-1",
                    }
                }
            ),
        ),
    )
    reply.get_by_role("button", name="Explain", exact=True).click()
    error = panel.locator(".error")
    expect(error).to_contain_text("The explanation could not be written: too many requests")
    expect(error).to_contain_text("What to do: wait a minute and try again")
    expect(error).to_contain_text("Request id req-explain-1")
    expect(text).to_be_hidden()
    expect(reply.get_by_role("button", name="Explain", exact=True)).not_to_have_attribute(
        "aria-disabled", "true"
    )


def test_write_letter_edit_download_and_close(page: Page) -> None:
    login(page)
    reply = send_case(page, NOTE_WITH_IDENTIFIERS)
    # a finding confirmed in the page goes into the letter too
    reply.locator(".next").get_by_role("button", name="Bilateral tonic-clonic seizure").click()
    reply.locator(".ask").get_by_role("button", name="Present").click()
    wait_for_update(reply, "Bilateral tonic-clonic seizure: present")

    with page.expect_request("**/api/v1/letters") as request_info:
        dialog = open_letter(page, reply)
    sent = json.loads(request_info.value.post_data or "{}")
    assert sent["text"] == NOTE_WITH_IDENTIFIERS  # context, de-identified by the server
    # the findings as reviewed on the page are the letter's findings
    assert sent["case"]["phenotypes"] == [
        {"id": "HP:0001250", "excluded": False},
        {"id": "HP:0000505", "excluded": True},
        {"id": "HP:0002069", "excluded": False},
    ]

    editor = dialog.get_by_role("textbox", name="Letter (Markdown)")
    expect(editor).to_be_focused()
    expect(editor).to_have_value(re.compile(r"^# Referral"))
    letter = editor.input_value()
    assert "Bilateral tonic-clonic seizure" in letter
    assert "Disease" in letter
    for identifier in ("Jane", "Doe", "12345678", "555-123-4567", "03/04/2024"):
        assert identifier not in letter
    meta = dialog.locator(".letter__meta")
    expect(meta).to_contain_text("From a template (no language model configured)")
    expect(meta).to_contain_text(re.compile(r"De-identified: [1-9]\d* identifiers? removed"))

    # what is downloaded is the text as edited
    editor.press("Control+End")
    editor.press_sequentially("\nSigned: the referring clinician\n")
    with page.expect_download() as download_info:
        dialog.get_by_role("button", name="Download .md").click()
    download = download_info.value
    assert download.suggested_filename == "referral-letter.md"
    path = download.path()
    saved = path.read_text(encoding="utf-8")
    assert saved.startswith("# Referral")
    assert saved.endswith("Signed: the referring clinician\n")
    expect(dialog.get_by_role("status")).to_have_text("Downloaded as referral-letter.md.")

    # Escape closes the editor; focus returns to the button that opened it
    editor.press("Escape")
    expect(dialog).to_have_count(0)
    expect(reply.get_by_role("button", name="Write letter")).to_be_focused()

    # opened again, the close button ends it too
    dialog = open_letter(page, reply)
    dialog.get_by_role("button", name="Close the letter").click()
    expect(dialog).to_have_count(0)
    expect(reply.get_by_role("button", name="Write letter")).to_be_focused()


def test_letter_copy(page: Page) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    login(page)
    reply = send_case(page)
    dialog = open_letter(page, reply)
    dialog.get_by_role("button", name="Copy").click()
    expect(dialog.get_by_role("status")).to_have_text("Copied to the clipboard.")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("# Referral")
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)


def test_letter_error_is_shown_inline(page: Page) -> None:
    login(page)
    reply = send_case(page)
    page.route(
        "**/api/v1/letters",
        lambda route: route.fulfill(
            status=422,
            content_type="application/json",
            body=json.dumps({"error": {"code": "invalid", "message": "text is empty"}}),
        ),
    )
    reply.get_by_role("button", name="Write letter").click()
    expect(reply.locator(".tools .error")).to_contain_text(
        "The letter could not be written: text is empty"
    )
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(reply.get_by_role("button", name="Write letter")).not_to_have_attribute(
        "aria-disabled", "true"
    )


def test_explanation_and_letter_fit_a_phone(new_page: PageFactory) -> None:
    page = new_page(PHONE)
    login(page)
    reply = send_case(page, CASE_TEXT)
    explain(reply)
    expect(reply.locator(".explain__text")).to_contain_text("Disease A")
    no_horizontal_scroll(page)
    dialog = open_letter(page, reply)
    no_horizontal_scroll(page)
    box = dialog.bounding_box()
    assert box is not None
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    for name in ("Download .md", "Copy", "Close the letter"):
        expect(dialog.get_by_role("button", name=name)).to_be_in_viewport()
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
