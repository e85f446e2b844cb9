// The ranked differential: rank, disease, probability bar, and the evidence behind each one
// (with the patient's genotype, when the case lists candidate genes or variants).

import { h, icon, percent, srOnly, uid } from "./dom.js";

const SHOWN_FIRST = 5;

/** Modes of inheritance, as `evidence.genotype.inheritance` codes them. */
const MODES = {
  AD: "autosomal dominant",
  AR: "autosomal recessive",
  XLD: "X-linked dominant",
  XLR: "X-linked recessive",
  XL: "X-linked",
  MT: "mitochondrial",
  YL: "Y-linked",
};

function frequencyText(frequency) {
  if (frequency === null || frequency === undefined) return null;
  return `${percent(frequency)} of patients`;
}

function evidenceList(items, empty, renderItem) {
  if (!items || !items.length) return h("p", { class: "why__none", text: empty });
  return h(
    "ul",
    { class: "why__list" },
    items.map((item) => h("li", {}, renderItem(item))),
  );
}

function matchedItem(m) {
  const same = m.patient_term === m.disease_term;
  return [
    h("span", { class: "why__term", text: m.patient_label }),
    same
      ? null
      : [
          h("span", { class: "why__arrow", "aria-hidden": "true", text: " → " }),
          srOnly(" matches the disease's "),
          h("span", { class: "why__term", text: m.disease_label }),
        ],
    h(
      "span",
      { class: "why__meta" },
      [frequencyText(m.frequency), same ? null : m.relation].filter(Boolean).join(" · "),
    ),
  ];
}

function termItem(t) {
  return [
    h("span", { class: "why__term", text: t.label }),
    frequencyText(t.frequency)
      ? h("span", { class: "why__meta", text: frequencyText(t.frequency) })
      : null,
  ];
}

function conflictItem(c) {
  return [
    h("span", { class: "why__term", text: c.label }),
    h("span", { class: "why__meta", text: c.reason }),
  ];
}

function evidenceCounts(ev) {
  const parts = [];
  const n = (list) => (list ? list.length : 0);
  parts.push(`${n(ev.matched)} matched`);
  const missing = Math.max(n(ev.missing), ev.missing_total || 0);
  if (missing) parts.push(`${missing} missing`);
  if (n(ev.conflicts)) parts.push(`${n(ev.conflicts)} conflict${n(ev.conflicts) === 1 ? "" : "s"}`);
  if (n(ev.unexplained)) parts.push(`${n(ev.unexplained)} unexplained`);
  return parts.join(" · ");
}

/** "likely_pathogenic" → "likely pathogenic"; null stays null. */
function words(value) {
  return value ? String(value).replace(/_/g, " ") : null;
}

/**
 * The genotype line under a candidate's name: what the patient's genes say for the disease
 * (a carried gene, its qualifying variants) or against it (none of its genes qualifies).
 */
function genotypeLine(genotype) {
  if (!genotype || !genotype.summary) return null;
  const tone = genotype.log_lr > 0 ? "for" : genotype.log_lr < 0 ? "against" : "neutral";
  return h(
    "p",
    { class: `genotype genotype--${tone}` },
    h("span", { class: "genotype__label", text: "Genotype:" }),
    " ",
    h("span", { class: "genotype__summary", text: genotype.summary }),
  );
}

function callItem(call) {
  const impact = call.impact ? `${words(call.impact).toLowerCase()} impact` : null;
  return [
    h("span", { class: "why__term why__variant", text: call.variant || "Variant (not described)" }),
    h("span", {
      class: "why__meta",
      text: [words(call.zygosity), words(call.effect), impact, words(call.classification)]
        .filter(Boolean)
        .join(" · "),
    }),
  ];
}

/** The genotype evidence, in full: the summary, the disease's inheritance, the calls. */
function genotypeSection(genotype) {
  if (!genotype) return null;
  const modes = (genotype.inheritance || []).map((m) => MODES[m] || m);
  return h(
    "div",
    { class: "why__section why__section--wide" },
    h("h4", { class: "why__title", text: "Genotype" }),
    h("p", { class: "why__genotype", text: genotype.summary }),
    modes.length
      ? h("p", { class: "why__meta", text: `Inheritance: ${modes.join(", ")}` })
      : null,
    genotype.gene
      ? evidenceList(
          genotype.calls,
          `No variant given: ${genotype.gene} is listed as a candidate gene.`,
          callItem,
        )
      : null,
  );
}

function whySection(title, body) {
  return h("div", { class: "why__section" }, h("h4", { class: "why__title", text: title }), body);
}

/** Links to an id's public page (MONDO, OMIM, Orphanet); plain text when there is none. */
function idLink(id, url) {
  return url
    ? h("a", { class: "candidate__link", href: url, target: "_blank", rel: "noopener", text: id })
    : h("span", { text: id });
}

/** One disease, its MONDO id and its entries (OMIM, ORPHA), each linking to its page. */
function diseaseIds(candidate) {
  const members = candidate.members && candidate.members.length
    ? candidate.members
    : [{ id: candidate.disease_id, url: null }];
  const parts = [];
  if (candidate.mondo_id) parts.push(idLink(candidate.mondo_id, candidate.mondo_url));
  members.forEach((m, i) => {
    if (parts.length) parts.push(i === 0 && candidate.mondo_id ? " · " : ", ");
    parts.push(idLink(m.id, m.url));
  });
  return h("span", { class: "candidate__ids" }, parts);
}

function candidateItem(candidate, view) {
  const ev = candidate.evidence || {};
  const key = candidate.disease_id;
  const seenIn = view.similarCounts.get(key) || 0;
  const why = h(
    "details",
    {
      class: "why",
      open: view.openWhy.has(key),
      ontoggle: (event) => {
        if (event.target.open) view.openWhy.add(key);
        else view.openWhy.delete(key);
      },
    },
    h(
      "summary",
      { class: "why__summary", dataset: { focusKey: `why:${key}` } },
      h(
        "span",
        { class: "why__label" },
        icon("chevron", "icon why__chevron"),
        "Why",
        srOnly(` ${candidate.name}`),
      ),
      h("span", { class: "why__counts", text: evidenceCounts(ev) }),
    ),
    h(
      "div",
      { class: "why__body" },
      genotypeSection(ev.genotype),
      whySection(
        "Matched findings",
        evidenceList(ev.matched, "No reported finding matches.", matchedItem),
      ),
      whySection(
        (ev.missing_total || 0) > (ev.missing || []).length
          ? `Expected but not reported (the ${ev.missing.length} most frequent of ${ev.missing_total})`
          : "Expected but not reported",
        evidenceList(ev.missing, "Nothing frequent is missing.", termItem),
      ),
      whySection("Conflicts", evidenceList(ev.conflicts, "No conflicts.", conflictItem)),
      whySection(
        "Reported but not explained",
        evidenceList(ev.unexplained, "Every reported finding is explained.", termItem),
      ),
      seenIn
        ? h("p", { class: "why__similar" }, `Diagnosed in ${seenIn} of the similar cases below.`)
        : null,
    ),
  );
  const probability = candidate.probability;
  return h(
    "li",
    { class: "candidate", dataset: { disease: key } },
    h(
      "div",
      { class: "candidate__row" },
      h("span", { class: "candidate__rank", "aria-hidden": "true", text: String(candidate.rank) }),
      h(
        "div",
        { class: "candidate__body" },
        h("p", { class: "candidate__name" }, srOnly(`Rank ${candidate.rank}: `), candidate.name),
        h(
          "p",
          { class: "candidate__id" },
          diseaseIds(candidate),
          seenIn
            ? h("span", {
                class: "badge",
                text: `in ${seenIn} similar case${seenIn === 1 ? "" : "s"}`,
              })
            : null,
        ),
        genotypeLine(ev.genotype),
      ),
      h(
        "div",
        { class: "candidate__prob" },
        h("span", { class: "candidate__pct" }, srOnly("probability "), percent(probability)),
        h(
          "span",
          { class: "bar", "aria-hidden": "true" },
          h("span", {
            class: "bar__fill",
            style: { width: `${Math.max(0, Math.min(1, probability || 0)) * 100}%` },
          }),
        ),
      ),
    ),
    why,
  );
}

/**
 * The differential section of one prediction. `view` keeps what the doctor opened across
 * refinements: {openWhy: Set, showAll: bool, similarCounts: Map, onToggleAll}.
 */
export function differentialSection(prediction, view) {
  const titleId = uid("ddx-title");
  const candidates = prediction.candidates || [];
  const shown = view.showAll ? candidates : candidates.slice(0, SHOWN_FIRST);
  const listId = uid("ddx-list");
  return h(
    "section",
    { class: "ddx" },
    h(
      "div",
      { class: "section-head" },
      h("h3", { id: titleId, class: "section-title", text: "Differential diagnosis" }),
      h("p", { class: "section-note", text: "Probability among the ranked diseases" }),
    ),
    (prediction.warnings || []).length
      ? h(
          "ul",
          { class: "warnings" },
          prediction.warnings.map((w) => h("li", { text: w })),
        )
      : null,
    candidates.length
      ? h(
          "ol",
          { class: "candidates", id: listId },
          shown.map((c) => candidateItem(c, view)),
        )
      : h("p", { class: "empty", text: "No disease matches these findings." }),
    candidates.length > SHOWN_FIRST
      ? h(
          "button",
          {
            type: "button",
            class: "button button--link",
            "aria-expanded": String(view.showAll),
            "aria-controls": listId,
            dataset: { focusKey: "ddx:more" },
            onclick: view.onToggleAll,
          },
          view.showAll
            ? `Show the top ${SHOWN_FIRST} only`
            : `Show all ${candidates.length} candidates`,
        )
      : null,
  );
}
