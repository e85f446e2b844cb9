// "Not understood": the parts of the clinician's text that no phenotype was read from, each with
// "did you mean" suggestions. Choosing one adds it as a present finding and ranks the case again.

import { h, icon, uid } from "./dom.js";

/**
 * `unmapped`: the response's unmapped spans ({text, suggestions: [{id, label}]});
 * `onPick(term)` adds the chosen term. Null when every part of the text was understood.
 */
export function unmappedSection({ unmapped, onPick }) {
  const spans = (unmapped || []).filter((u) => u && u.text);
  if (!spans.length) return null;
  const titleId = uid("unmapped-title");
  const items = spans.map((span) => {
    const suggestions = (span.suggestions || []).map((term) => {
      const button = h(
        "button",
        {
          type: "button",
          class: "next-chip unmapped__suggestion",
          dataset: { term: term.id, focusKey: `unmapped:${span.text}:${term.id}` },
          "aria-label": `Add ${term.label} (for "${span.text}")`,
        },
        icon("present"),
        h("span", { text: term.label }),
      );
      button.addEventListener("click", () => onPick(term, span));
      return h("li", {}, button);
    });
    return h(
      "li",
      { class: "unmapped__item" },
      h("p", { class: "unmapped__text" }, "“", h("strong", { text: span.text }), "”"),
      suggestions.length
        ? h(
            "div",
            { class: "unmapped__suggestions" },
            h("span", { class: "section-note", text: "Did you mean:" }),
            h("ul", { class: "next-chips" }, suggestions),
          )
        : h("p", { class: "section-note", text: "No suggestion: add it as a finding below." }),
    );
  });
  return h(
    "section",
    { class: "unmapped", "aria-labelledby": titleId },
    h(
      "div",
      { class: "section-head" },
      h("h3", { id: titleId, class: "section-title", text: "Not understood" }),
      h("p", {
        class: "section-note",
        text: "Parts of the text no finding was read from — not counted in the ranking",
      }),
    ),
    h("ul", { class: "unmapped__list" }, items),
  );
}
