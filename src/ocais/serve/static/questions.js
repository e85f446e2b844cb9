// "Ask next": the phenotypes that best separate the top candidates, as chips. Choosing one asks
// "present or absent?"; the answer becomes a finding and the differential is ranked again.
// "Genes worth testing": the genes of the first candidates, as a panel to copy.

import { copyText, fill, h, icon, uid } from "./dom.js";

/**
 * `nextPhenotypes`: the prediction's next_phenotypes; `names`: disease id → name (for the
 * "more typical of" line); `onAnswer(term, excluded)` records the answer.
 */
export function questionsSection({ nextPhenotypes, names, onAnswer }) {
  const titleId = uid("next-title");
  const panelId = uid("next-panel");
  const panel = h("div", { class: "ask", id: panelId, role: "group" });
  panel.hidden = true;
  let openChip = null;

  function closePanel(returnFocus) {
    panel.hidden = true;
    panel.replaceChildren();
    if (openChip) {
      openChip.setAttribute("aria-expanded", "false");
      if (returnFocus) openChip.focus();
    }
    openChip = null;
  }

  function openPanel(button, term) {
    if (openChip === button) {
      closePanel(true);
      return;
    }
    closePanel(false);
    openChip = button;
    button.setAttribute("aria-expanded", "true");
    const questionId = uid("ask-q");
    const typical = (term.candidates_with || [])
      .map((id) => names.get(id))
      .filter(Boolean)
      .slice(0, 3);
    const answer = (excluded) => () => {
      closePanel(false);
      onAnswer(term, excluded);
    };
    panel.setAttribute("aria-labelledby", questionId);
    fill(
      panel,
      h(
        "p",
        { class: "ask__question", id: questionId },
        "Does the patient have ",
        h("strong", { text: term.label }),
        "?",
      ),
      typical.length
        ? h("p", { class: "ask__note", text: `Annotated to: ${typical.join("; ")}` })
        : null,
      h(
        "div",
        { class: "ask__buttons" },
        h(
          "button",
          { type: "button", class: "button button--primary", onclick: answer(false) },
          icon("present"),
          "Present",
        ),
        h(
          "button",
          { type: "button", class: "button button--secondary", onclick: answer(true) },
          icon("absent"),
          "Absent",
        ),
        h(
          "button",
          { type: "button", class: "button button--quiet", onclick: () => closePanel(true) },
          "Not known",
        ),
      ),
    );
    panel.hidden = false;
    panel.querySelector("button").focus();
  }

  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      closePanel(true);
    }
  });

  const chips = (nextPhenotypes || []).map((term) => {
    const button = h(
      "button",
      {
        type: "button",
        class: "next-chip",
        "aria-expanded": "false",
        "aria-controls": panelId,
        dataset: { term: term.id, focusKey: `next:${term.id}` },
      },
      icon("question"),
      h("span", { text: term.label }),
    );
    button.addEventListener("click", () => openPanel(button, term));
    return h("li", {}, button);
  });

  if (!chips.length) return null;
  return h(
    "section",
    { class: "next" },
    h(
      "div",
      { class: "section-head" },
      h("h3", { id: titleId, class: "section-title", text: "Ask next" }),
      h("p", { class: "section-note", text: "Findings that best separate the top candidates" }),
    ),
    h("ul", { class: "next-chips", "aria-labelledby": titleId }, chips),
    panel,
  );
}

/**
 * "Genes worth testing" from the prediction's `genes_to_test` ({symbol, gene_id, candidates:
 * [disease ids]}; given when the case lists no genes): each gene with the candidates it would
 * explain (`names`: disease id → name), and "Copy panel" (the symbols, one a line). Null when
 * there is none.
 */
export function genesSection({ genesToTest, names }) {
  const genes = (genesToTest || []).filter((g) => g && g.symbol);
  if (!genes.length) return null;
  const titleId = uid("genes-title");
  const status = h("span", { class: "genes__status", role: "status" });
  const copy = h(
    "button",
    {
      type: "button",
      class: "button button--secondary genes__copy",
      dataset: { focusKey: "genes:copy" },
      onclick: async () => {
        const n = genes.length;
        status.textContent = (await copyText(genes.map((g) => g.symbol).join("\n")))
          ? `Copied ${n} gene${n === 1 ? "" : "s"} to the clipboard.`
          : "Select the genes and copy them with Ctrl+C.";
      },
    },
    "Copy panel",
  );
  const items = genes.map((gene) => {
    const diseases = (gene.candidates || []).map((id) => names.get(id) || id);
    return h(
      "li",
      { class: "genes__item", dataset: { gene: gene.gene_id || gene.symbol } },
      h("span", { class: "genes__symbol", title: gene.gene_id || null, text: gene.symbol }),
      " ",
      diseases.length
        ? h("span", { class: "genes__for", text: `for ${diseases.join("; ")}` })
        : null,
    );
  });
  return h(
    "section",
    { class: "genes", "aria-labelledby": titleId },
    h(
      "div",
      { class: "section-head" },
      h("h3", { id: titleId, class: "section-title", text: "Genes worth testing" }),
      h("p", { class: "section-note", text: "The genes of the first candidates, as a panel" }),
    ),
    h("ul", { class: "genes__list", "aria-labelledby": titleId }, items),
    h("div", { class: "genes__actions" }, copy, status),
  );
}
