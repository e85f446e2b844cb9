"""The chat page in a real browser: sign in, type a case, refine it, read the evidence, give
feedback — with the keyboard, on a phone, against the live app (tiny release, see conftest).

Rankings on the tiny release (Disease A: seizure 1/2, visual impairment very frequent;
B: bilateral tonic-clonic seizure 80%, NOT visual impairment; C: eye abnormality):
"Recurrent seizures, no poor vision" → A 56%, B 26%, C 18%; with visual impairment present
A 76%; without the visual-impairment finding B 42% leads; adding the tonic-clonic seizure → B 54%.
"""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.server import DESKTOP, PASSWORD, PHONE, LiveApp, build_app, live
from tests.conftest import write_tiny_release

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

    from tests.browser.conftest import PageFactory

pytestmark = pytest.mark.browser

CASE_TEXT = "Recurrent seizures, no poor vision"


def expect(target: Locator | Page) -> Any:
    """Playwright's auto-waiting assertions (imported late: collection works without it)."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def login(page: Page, user: str = "doc", password: str = PASSWORD) -> None:
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_label("Describe the patient")).to_be_visible()


def send_case(page: Page, text: str = CASE_TEXT) -> Locator:
    """Type a case, press Enter, and return the new reply once its differential is shown."""
    box = page.get_by_label("Describe the patient")
    box.fill(text)
    box.press("Enter")
    replies = page.locator(".turn--assistant:not(.turn--history)")
    expect(replies.last.locator(".candidate").first).to_be_visible()
    return replies.last


def chip(reply: Locator, label: str) -> Locator:
    return reply.locator(
        ".chip", has=reply.page.locator(".chip__label", has_text=re.compile(f"^{label}$"))
    )


def top_candidate(reply: Locator) -> Locator:
    return reply.locator(".candidate").first


def wait_for_update(reply: Locator, what: str) -> None:
    expect(reply.locator(".turn__status")).to_have_text(f"Updated after: {what}.")


def no_horizontal_scroll(page: Page) -> None:
    width, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= inner, f"the page is {width} px wide in a {inner} px viewport"


# --- tests -------------------------------------------------------------------------------------


def test_type_a_case_and_see_findings_and_candidates(page: Page, server: LiveApp) -> None:
    notice = page.locator("#notice")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("OCAIS supports and does not replace clinical judgement.")
    login(page)
    reply = send_case(page)

    expect(page.locator(".turn--doctor .bubble")).to_contain_text(CASE_TEXT)
    expect(reply.locator(".chip")).to_have_count(2)
    expect(chip(reply, "Seizure")).to_have_class(re.compile(r"\bchip--observed\b"))
    expect(chip(reply, "Visual impairment")).to_have_class(re.compile(r"\bchip--excluded\b"))
    expect(reply.locator(".candidate")).to_have_count(3)
    top = top_candidate(reply)
    expect(top).to_have_attribute("data-disease", "OMIM:100001")
    expect(top.locator(".candidate__name")).to_contain_text("Disease A")
    expect(top.locator(".candidate__pct")).to_contain_text("56%")
    # similar cases: at most three, with their diagnoses by name
    similar = reply.locator(".similar__case")
    expect(similar.first).to_be_visible()
    assert 1 <= similar.count() <= 3
    expect(reply.locator(".similar")).to_contain_text("Disease B")
    # the result was announced; nothing about the patient in the URL or in browser storage
    expect(page.locator("#announcer")).to_contain_text("Top candidate Disease A")
    expect(notice).to_be_visible()
    assert page.url == server.url + "/"
    assert page.evaluate("localStorage.length + sessionStorage.length") == 0


def test_negate_and_remove_chips_rerank(page: Page) -> None:
    login(page)
    reply = send_case(page)

    reply.get_by_role("button", name="Mark Visual impairment as present").click()
    wait_for_update(reply, "Visual impairment: present")
    expect(chip(reply, "Visual impairment")).to_have_class(re.compile(r"\bchip--observed\b"))
    expect(top_candidate(reply).locator(".candidate__pct")).to_contain_text("76%")
    # keyboard focus stays on the chip's (re-rendered) toggle
    focused = page.evaluate("document.activeElement.getAttribute('aria-label')")
    assert focused == "Mark Visual impairment as absent"

    reply.get_by_role("button", name="Remove Visual impairment").click()
    wait_for_update(reply, "Removed: Visual impairment")
    expect(reply.locator(".chip")).to_have_count(1)
    expect(top_candidate(reply)).to_have_attribute("data-disease", "OMIM:100002")
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "Remove Seizure"

    # no present finding left: the API's error and its hint appear inline
    reply.get_by_role("button", name="Remove Seizure").click()
    error = reply.locator(".error")
    expect(error).to_contain_text("no observed phenotype")
    expect(error).to_contain_text("What to do: describe findings in clinical terms")
    expect(reply.locator(".turn__results")).to_have_class(re.compile("turn__results--stale"))


def test_add_a_finding_with_the_keyboard(page: Page) -> None:
    login(page)
    reply = send_case(page)
    combo = reply.get_by_role("combobox", name="Add a finding")
    combo.focus()

    # Escape closes the suggestions
    combo.press_sequentially("seiz", delay=30)
    listbox = reply.get_by_role("listbox")
    expect(listbox.get_by_role("option").first).to_be_visible()
    expect(combo).to_have_attribute("aria-expanded", "true")
    combo.press("Escape")
    expect(listbox).to_be_hidden()
    expect(combo).to_have_attribute("aria-expanded", "false")
    combo.press("Escape")
    expect(combo).to_have_value("")

    # a synonym finds the term; Down highlights it, Enter adds it
    combo.press_sequentially("grand mal", delay=30)
    option = listbox.get_by_role("option", name=re.compile("Bilateral tonic-clonic seizure"))
    expect(option).to_be_visible()
    expect(option).to_contain_text("also: Grand mal seizure")
    combo.press("ArrowDown")
    expect(option).to_have_attribute("aria-selected", "true")
    expect(combo).to_have_attribute("aria-activedescendant", option.get_attribute("id") or "")
    combo.press("Enter")
    wait_for_update(reply, "Added: Bilateral tonic-clonic seizure")
    expect(chip(reply, "Bilateral tonic-clonic seizure")).to_have_class(
        re.compile(r"\bchip--observed\b")
    )
    expect(top_candidate(reply)).to_have_attribute("data-disease", "OMIM:100002")
    expect(combo).to_be_focused()


@pytest.mark.parametrize(
    ("answer", "state", "top", "pct"),
    [("Present", "observed", "OMIM:100002", "54%"), ("Absent", "excluded", "OMIM:100001", "48%")],
)
def test_answering_a_suggested_question_refines_the_case(
    page: Page, answer: str, state: str, top: str, pct: str
) -> None:
    login(page)
    reply = send_case(page)
    question = reply.locator(".next").get_by_role("button", name="Bilateral tonic-clonic seizure")
    question.click()
    expect(question).to_have_attribute("aria-expanded", "true")
    panel = reply.locator(".ask")
    expect(panel).to_contain_text("Does the patient have Bilateral tonic-clonic seizure?")
    expect(panel.get_by_role("button", name="Present")).to_be_focused()
    panel.get_by_role("button", name=answer).click()

    wait_for_update(reply, f"Bilateral tonic-clonic seizure: {answer.lower()}")
    expect(chip(reply, "Bilateral tonic-clonic seizure")).to_have_class(
        re.compile(rf"\bchip--{state}\b")
    )
    expect(reply.locator(".chip")).to_have_count(3)
    expect(top_candidate(reply)).to_have_attribute("data-disease", top)
    expect(top_candidate(reply).locator(".candidate__pct")).to_contain_text(pct)


def test_feedback_is_stored(page: Page, server: LiveApp) -> None:
    login(page)
    reply = send_case(page)
    comment = f"browser test {uuid.uuid4()}"
    form = reply.locator("form.feedback")
    form.get_by_role("radio", name="4 — very useful").check()
    form.get_by_label("Confirmed diagnosis").select_option(label="1. Disease A (OMIM:100001)")
    form.get_by_label("Comment (optional)").fill(comment)
    form.get_by_role("button", name="Send feedback").click()
    expect(form.get_by_role("status")).to_contain_text("Saved")
    expect(form.get_by_role("status")).to_contain_text("the confirmed diagnosis was ranked 1")

    # as the admin sees it through the API
    with server.client("boss") as client:
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + 10
        while not found and time.monotonic() < deadline:
            items = client.get("/feedback", params={"limit": 500}).json()["items"]
            found = [item for item in items if item["comment"] == comment]
    assert len(found) == 1, "the feedback is not in the store"
    item = found[0]
    assert item["rating"] == 4
    assert item["disease_id"] == "OMIM:100001"
    assert item["rank_of_confirmed"] == 1
    assert item["user_id"] == server.services.accounts.store.get_user_by_name("doc").id


def test_evidence_expands(page: Page) -> None:
    login(page)
    reply = send_case(page)
    why = top_candidate(reply).locator("details.why")
    body = why.locator(".why__body")
    expect(body).to_be_hidden()
    summary = why.locator("summary")
    expect(summary).to_contain_text("1 matched · 1 conflict")
    summary.click()
    expect(body).to_be_visible()
    expect(body.locator(".why__section", has_text="Matched findings")).to_contain_text("Seizure")
    conflicts = body.locator(".why__section", has_text="Conflicts")
    expect(conflicts).to_contain_text("Visual impairment")
    expect(conflicts).to_contain_text("excluded in the patient")
    # the similar case diagnosed with this disease is pointed out
    expect(body).to_contain_text("Diagnosed in 1 of the similar cases below.")
    # the keyboard closes it again
    summary.focus()
    page.keyboard.press("Enter")
    expect(body).to_be_hidden()


def test_keyboard_reaches_the_input_and_sends_with_enter(page: Page) -> None:
    # sign in with the keyboard alone
    expect(page.get_by_label("User name")).to_be_focused()
    page.keyboard.type("doc")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    box = page.get_by_label("Describe the patient")
    expect(box).to_be_focused()

    # from the top of the page, Tab reaches the input and then the send button
    page.mouse.click(2, 2)  # the header: sequential focus navigation starts there
    order = []
    for _ in range(10):
        page.keyboard.press("Tab")
        order.append(
            page.evaluate("document.activeElement.id || document.activeElement.textContent")
        )
        if order[-1] == "case-text":
            break
    assert order == ["new-case", "logout", "Use an example", "case-text"], order
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_focused()

    # before the header, the skip link jumps straight to the input
    page.mouse.click(2, 2)
    page.keyboard.press("Shift+Tab")
    expect(page.get_by_role("link", name="Skip to the case input")).to_be_focused()
    page.keyboard.press("Enter")
    expect(box).to_be_focused()

    page.keyboard.type(CASE_TEXT)
    page.keyboard.press("Enter")
    reply = page.locator(".turn--assistant").last
    expect(top_candidate(reply)).to_have_attribute("data-disease", "OMIM:100001")
    # the new reply's heading takes focus, so reading continues from the result
    expect(reply.get_by_role("heading", name="Assessment 1")).to_be_focused()


def test_phone_layout_has_no_horizontal_scroll(new_page: PageFactory) -> None:
    page = new_page(PHONE)
    no_horizontal_scroll(page)
    login(page)
    reply = send_case(
        page,
        "7-year-old girl with recurrent seizures since infancy; an extraordinarily-long-"
        "hyphenated-description-without-spaces-to-stress-wrapping; no poor vision",
    )
    # the notice scrolled away with the page; the composer's copy stays in view
    expect(page.locator(".composer__notice")).to_be_in_viewport()
    expect(page.locator(".composer__notice")).to_have_text(
        "OCAIS supports and does not replace clinical judgement."
    )
    no_horizontal_scroll(page)
    # the age and sex stated in the text fill the case's fields
    expect(reply.get_by_label("Sex")).to_have_value("female")
    expect(reply.get_by_label("Age (years)")).to_have_value("7")
    top_candidate(reply).locator("summary").click()
    no_horizontal_scroll(page)
    combo = reply.get_by_role("combobox", name="Add a finding")
    combo.press_sequentially("seizure", delay=20)
    expect(reply.get_by_role("option").first).to_be_visible()
    no_horizontal_scroll(page)
    combo.press("Escape")
    reply.locator(".next-chip").first.click()
    no_horizontal_scroll(page)
    send = page.get_by_role("button", name="Send", exact=True)
    expect(send).to_be_in_viewport()
    box = send.bounding_box()
    assert box is not None and box["x"] + box["width"] <= PHONE["width"]


def test_follow_up_message_adds_to_the_case(page: Page) -> None:
    login(page)
    first = send_case(page)
    expect(first.locator(".chip")).to_have_count(2)
    second = send_case(page, "Also grand mal seizures.")
    expect(second.get_by_role("heading", name="Assessment 2")).to_be_visible()
    expect(second.locator(".chip")).to_have_count(3)
    expect(chip(second, "Visual impairment")).to_have_class(re.compile(r"\bchip--excluded\b"))
    expect(top_candidate(second)).to_have_attribute("data-disease", "OMIM:100002")
    # the earlier reply is history: collapsed, without editing controls
    history = page.locator(".turn--history")
    expect(history).to_have_count(1)
    expect(history.locator(".turn__body")).to_be_hidden()
    expect(history.locator(".turn__summary")).to_contain_text("Top candidate: Disease A (56%)")
    history.get_by_role("button", name="Show details").click()
    expect(history.locator(".turn__body")).to_be_visible()
    expect(history.locator(".chip__button")).to_have_count(0)
    expect(history.get_by_role("combobox", name="Add a finding")).to_have_count(0)


def test_wrong_password_and_unrecognised_text(page: Page) -> None:
    page.get_by_label("User name").fill("doc")
    page.get_by_label("Password").fill("not the password at all")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#login-error .error")).to_contain_text("wrong user name or password")
    login(page)
    box = page.get_by_label("Describe the patient")
    box.fill("The weather was lovely today.")
    box.press("Enter")
    error = page.locator(".turn--error .error")
    expect(error).to_contain_text("no HPO phenotype was recognised in the text")
    expect(error).to_contain_text("What to do: describe findings in clinical terms")
    expect(error).to_contain_text("Request id")
    # the text stays, to be rephrased
    expect(box).to_have_value("The weather was lovely today.")


def test_session_survives_a_reload(page: Page) -> None:
    login(page)
    page.reload()
    expect(page.locator("#session-user")).to_have_text("doc · clinician")
    # the CSRF token is read back from its cookie: changes still work
    reply = send_case(page)
    expect(top_candidate(reply)).to_have_attribute("data-disease", "OMIM:100001")
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator(".turn--assistant")).to_have_count(0)


def test_similar_cases_are_hidden_without_search(
    browser: Browser, tmp_path: Path, server: LiveApp
) -> None:
    from ocais.knowledge import load_knowledge

    knowledge = load_knowledge(write_tiny_release(tmp_path / "hpo"), tmp_path / "cache")
    with live(build_app(tmp_path / "data", knowledge, search=False)) as bare:
        bare.add_user("doc", "clinician")
        context = browser.new_context(viewport=DESKTOP, base_url=bare.url)
        try:
            page = context.new_page()
            page.goto("/")
            login(page)
            reply = send_case(page)
            expect(top_candidate(reply)).to_have_attribute("data-disease", "OMIM:100001")
            # the search answered 503: no section, no error, the differential stands
            expect(reply.locator(".similar")).to_have_count(0)
            expect(reply.locator(".error")).to_have_count(0)
        finally:
            context.close()


def test_unmapped_text_is_shown_with_suggestions_to_add(page: Page) -> None:
    login(page)
    reply = send_case(page, "Recurrent seizures, no poor vision. Nervous system abnormalitis.")
    section = reply.locator(".unmapped")
    expect(section).to_contain_text("Not understood")
    expect(section).to_contain_text("Nervous system abnormalitis")
    expect(reply.locator(".chip")).to_have_count(2)  # not counted until chosen
    section.get_by_role("button", name=re.compile("Add Abnormality of the nervous system")).click()
    wait_for_update(reply, "Abnormality of the nervous system: present")
    expect(chip(reply, "Abnormality of the nervous system")).to_have_class(
        re.compile(r"\bchip--observed\b")
    )
    expect(reply.locator(".chip")).to_have_count(3)
    expect(reply.locator(".unmapped")).to_have_count(0)  # nothing left to resolve


def test_a_cds_card_link_opens_its_differential(page: Page, server: LiveApp) -> None:
    """The EHR shows the CDS card; its link opens the chart's findings here, ranked again."""
    import httpx

    subject = {"reference": "Patient/ehr-1"}
    prefetch = {
        "patient": {"resourceType": "Patient", "id": "ehr-1", "gender": "female"},
        "conditions": {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [
                {
                    "resource": {
                        "resourceType": "Condition",
                        "id": "c1",
                        "subject": subject,
                        "code": {
                            "coding": [{"system": "http://snomed.info/sct", "code": "91175000"}]
                        },
                    }
                }
            ],
        },
        "observations": {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [
                {
                    "resource": {
                        "resourceType": "Observation",
                        "id": "o1",
                        "status": "final",
                        "subject": subject,
                        "valueBoolean": True,
                        "code": {
                            "coding": [
                                {
                                    "system": "http://human-phenotype-ontology.org",
                                    "code": "HP:0000505",
                                }
                            ]
                        },
                    }
                }
            ],
        },
    }
    call = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"patientId": "ehr-1"},
        "prefetch": prefetch,
    }
    answer = httpx.post(f"{server.url}/cds-services/ocais-rare-disease-differential", json=call)
    assert answer.status_code == 200, answer.text
    link = answer.json()["cards"][0]["links"][0]["url"]
    assert link.startswith(server.url + "/#prediction=")
    page.goto(link)
    login(page)
    expect(page.locator(".turn--doctor .bubble")).to_contain_text("Opened from the EHR")
    reply = page.locator(".turn--assistant").last
    expect(reply.locator(".candidate").first).to_be_visible()
    expect(chip(reply, "Seizure")).to_have_class(re.compile(r"\bchip--observed\b"))
    expect(chip(reply, "Visual impairment")).to_have_class(re.compile(r"\bchip--observed\b"))
    expect(top_candidate(reply)).to_have_attribute("data-disease", "OMIM:100001")
    assert page.url == server.url + "/"  # the id left the address bar
