"""Genomic evidence in the chat page: candidate genes typed with the case rank on genotype too
(each candidate shows what the genes say), and without genes the page suggests genes worth
testing, to copy as a panel.

On the tiny release (see tests/conftest.py) Disease A's gene is GENEA, Disease B's GENEB and
Disease C has none. "Recurrent seizures, no poor vision" ranks A first (56%); with GENEA the
genomic ranker keeps A first with "GENEA is a candidate gene", B "GENEB not among the candidate
genes", C "no gene is known for this disease"; with GENEB, B leads.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.test_chat_page import CASE_TEXT, expect, login, send_case, top_candidate

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page, Request, Route

    from tests.browser.conftest import PageFactory
    from tests.browser.server import LiveApp

pytestmark = pytest.mark.browser

GENES_FIELD = "Genes (with candidate variants in a sequencing report)"


def candidate(reply: Locator, disease_id: str) -> Locator:
    return reply.locator(f'.candidate[data-disease="{disease_id}"]')


def send_with_genes(
    page: Page, genes: str, text: str = CASE_TEXT
) -> tuple[Locator, dict[str, Any]]:
    """Type the case and its genes, send, and return the reply and the request's body."""
    page.get_by_label(GENES_FIELD).fill(genes)
    box = page.get_by_label("Describe the patient")
    box.fill(text)
    with page.expect_request(
        lambda r: r.url.endswith("/api/v1/predict") and r.method == "POST"
    ) as request:
        box.press("Enter")
    replies = page.locator(".turn--assistant:not(.turn--history)")
    expect(replies.last.locator(".candidate").first).to_be_visible()
    return replies.last, json.loads(request.value.post_data or "{}")


def test_genes_are_sent_and_each_candidate_shows_its_genotype(page: Page) -> None:
    login(page)
    reply, body = send_with_genes(page, " genea,  GENEA ")
    # the text as before, and a case with the genes (listed once)
    assert body["text"] == CASE_TEXT
    assert body["case"] == {
        "phenotypes": [],
        "sex": "unknown",
        "age_years": None,
        "genes": ["genea"],
    }
    expect(page.get_by_label(GENES_FIELD)).to_have_value("")  # now part of the case
    expect(reply.locator(".turn__meta")).to_contain_text("1 candidate gene · genomic ranker")
    expect(reply.get_by_label("Candidate genes")).to_have_value("genea")

    top = top_candidate(reply)
    expect(top).to_have_attribute("data-disease", "OMIM:100001")
    line = top.locator(".genotype")
    expect(line).to_have_text("Genotype: GENEA is a candidate gene")
    expect(line).to_have_class(re.compile(r"\bgenotype--for\b"))
    against = candidate(reply, "OMIM:100002").locator(".genotype")
    expect(against).to_have_text("Genotype: GENEB not among the candidate genes")
    expect(against).to_have_class(re.compile(r"\bgenotype--against\b"))
    expect(candidate(reply, "ORPHA:100003").locator(".genotype")).to_have_text(
        "Genotype: no gene is known for this disease"
    )
    # the evidence opens on the genotype first
    top.locator("summary").click()
    section = top.locator(".why__section", has_text="Genotype")
    expect(section).to_be_visible()
    expect(section).to_contain_text("GENEA is a candidate gene")
    expect(section).to_contain_text("No variant given: GENEA is listed as a candidate gene.")
    # with genes, no gene panel is suggested
    expect(reply.locator(".genes")).to_have_count(0)


def test_editing_the_genes_ranks_again(page: Page) -> None:
    login(page)
    reply, _ = send_with_genes(page, "GENEA")
    field = reply.get_by_label("Candidate genes")
    with page.expect_request(lambda r: r.url.endswith("/api/v1/predict")) as request:
        field.fill("GENEB, NOTAGENE")
        field.press("Enter")
    assert json.loads(request.value.post_data or "{}")["case"]["genes"] == ["GENEB", "NOTAGENE"]
    expect(reply.locator(".turn__status")).to_have_text(
        "Updated after: Candidate genes: GENEB, NOTAGENE."
    )
    expect(top_candidate(reply)).to_have_attribute("data-disease", "OMIM:100002")
    expect(top_candidate(reply).locator(".genotype")).to_contain_text("GENEB")
    expect(reply.locator(".warnings")).to_contain_text("NOTAGENE")

    # cleared: the phenotype ranker again, with the gene panel back
    field.fill("")
    field.press("Enter")
    expect(reply.locator(".turn__status")).to_have_text("Updated after: Candidate genes removed.")
    expect(top_candidate(reply)).to_have_attribute("data-disease", "OMIM:100001")
    expect(reply.locator(".genotype")).to_have_count(0)
    expect(reply.locator(".genes__item")).to_have_count(2)


def test_variant_calls_are_listed_in_the_evidence(page: Page) -> None:
    """Variants come from the API (a report's); the page shows their calls, as text only."""
    login(page)

    def with_variant(route: Route, request: Request) -> None:
        body = json.loads(request.post_data or "{}")
        body["case"] = {
            **body.get("case", {}),
            "genes": [],
            "variants": [
                {
                    "gene": "GENEA",
                    "zygosity": "heterozygous",
                    "classification": "likely_pathogenic",
                    "impact": "MODERATE",
                    "effect": "missense_variant",
                    "variant": "<b>c.1A>G</b>",
                }
            ],
        }
        route.continue_(post_data=json.dumps(body))

    page.route("**/api/v1/predict", with_variant)
    reply, _ = send_with_genes(page, "GENEA")
    top = top_candidate(reply)
    expect(top.locator(".genotype")).to_have_text(
        "Genotype: GENEA: 1 qualifying variant(s), heterozygous"
    )
    top.locator("summary").click()
    call = top.locator(".why__section", has_text="Genotype").locator("li")
    expect(call).to_have_count(1)
    expect(call.locator(".why__variant")).to_have_text("<b>c.1A>G</b>")  # not markup
    expect(call).to_contain_text(
        "heterozygous · missense variant · moderate impact · likely pathogenic"
    )
    expect(candidate(reply, "OMIM:100002").locator(".genotype")).to_have_text(
        "Genotype: no qualifying variant in GENEB"
    )


def test_without_genes_the_page_suggests_genes_to_test(page: Page, server: LiveApp) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    login(page)
    with page.expect_request(lambda r: r.url.endswith("/api/v1/predict")) as request:
        reply = send_case(page)
    assert "case" not in json.loads(request.value.post_data or "{}")  # as before: text only
    expect(reply.locator(".genotype")).to_have_count(0)

    section = reply.locator(".genes")
    expect(section.get_by_role("heading", name="Genes worth testing")).to_be_visible()
    items = section.locator(".genes__item")
    expect(items).to_have_count(2)
    expect(items.nth(0)).to_have_text(re.compile(r"^GENEA\s*for Disease A$"))
    expect(items.nth(1)).to_have_text(re.compile(r"^GENEB\s*for Disease B$"))
    copy = section.get_by_role("button", name="Copy panel")
    copy.click()
    expect(section.get_by_role("status")).to_have_text("Copied 2 genes to the clipboard.")
    assert page.evaluate("navigator.clipboard.readText()") == "GENEA\nGENEB"
    expect(copy).to_be_focused()


def test_genes_follow_the_case_into_later_messages(page: Page) -> None:
    login(page)
    send_with_genes(page, "GENEA")
    second, body = send_with_genes(page, "GENEB", text="Also grand mal seizures.")
    assert body["case"]["genes"] == ["GENEA", "GENEB"]
    expect(second.get_by_label("Candidate genes")).to_have_value("GENEA, GENEB")
    history = page.locator(".turn--history")
    history.get_by_role("button", name="Show details").click()
    expect(history.locator(".findings__demo-text")).to_have_text("Genes: GENEA")
    # a new case starts without genes
    page.get_by_label(GENES_FIELD).fill("GENEA")
    page.get_by_role("button", name="New case").click()
    expect(page.get_by_label(GENES_FIELD)).to_have_value("")


def test_phone_layout_with_genes(new_page: PageFactory) -> None:
    from tests.browser.server import PHONE

    page = new_page(PHONE)
    login(page)
    field = page.get_by_label(GENES_FIELD)
    expect(field).to_be_in_viewport()
    reply, _ = send_with_genes(page, "GENEA, GENEB, " + "A-VERY-LONG-GENE-NAME-" * 3)
    top_candidate(reply).locator("summary").click()
    width, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= inner, f"the page is {width} px wide in a {inner} px viewport"
    send = page.get_by_role("button", name="Send", exact=True)
    expect(send).to_be_in_viewport()
