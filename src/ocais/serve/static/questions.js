// "Ask next": the phenotypes that best separate the top candidates, as chips. Choosing one asks
// "present or absent?"; the answer becomes a finding and the differential is ranked again.

import { fill, h, icon, uid } from "./dom.js";

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
