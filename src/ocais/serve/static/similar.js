// Similar stored cases for the current findings (POST /search): the top 3, with their diagnoses
// and the phenotypes they share. Hidden when search is unavailable on the installation.

import { ApiError } from "./api.js";
import { h, icon, uid } from "./dom.js";

export const SIMILAR_K = 3;
const MIN_SCORE = 0.01;

function describe(hit) {
  const bits = [];
  if (hit.sex && hit.sex !== "unknown") bits.push(hit.sex);
  if (hit.age_years !== null && hit.age_years !== undefined) {
    const age =
      hit.age_years < 2
        ? `${Math.round(hit.age_years * 12)} months`
        : `${Math.round(hit.age_years)} years`;
    bits.push(age);
  }
  return bits.join(", ");
}

function hitItem(hit, names) {
  const diagnoses = hit.diagnoses.length
    ? hit.diagnoses.map((id, i) => [
        i ? "; " : "",
        names.get(id) ? h("span", { text: names.get(id) }) : null,
        h("span", { class: "similar__id", text: names.get(id) ? ` ${id}` : id }),
      ])
    : h("span", { class: "muted", text: "no diagnosis recorded" });
  const shared = hit.shared_phenotypes.map((p) => p.label).filter(Boolean);
  return h(
    "li",
    { class: "similar__case" },
    h(
      "p",
      { class: "similar__dx" },
      h("span", { class: "similar__dx-label", text: "Diagnosis: " }),
      diagnoses,
    ),
    h(
      "p",
      { class: "similar__meta" },
      [
        describe(hit),
        hit.score !== null && hit.score !== undefined ? `similarity ${hit.score.toFixed(2)}` : null,
      ]
        .filter(Boolean)
        .join(" · "),
    ),
    h(
      "p",
      { class: "similar__shared" },
      shared.length ? `Shares: ${shared.join(", ")}` : "Shares no finding exactly (related terms)",
    ),
  );
}

/** Search similar cases and fill `slot`; returns the hits (empty when unavailable). */
export async function loadSimilar({ api, slot, observed, names }) {
  const titleId = uid("similar-title");
  const head = h(
    "div",
    { class: "section-head" },
    h("h3", { id: titleId, class: "section-title" }, icon("users"), "Similar cases"),
    h("p", { class: "section-note", text: "Stored cases with the most similar findings" }),
  );
  if (!observed.length) {
    slot.replaceChildren();
    return [];
  }
  slot.replaceChildren(
    h(
      "section",
      { class: "similar", "aria-busy": "true" },
      head,
      h("p", { class: "muted", text: "Searching…" }),
    ),
  );
  let result;
  try {
    result = await api.post("/search", { hpo: observed.slice(0, 200), k: SIMILAR_K + 2 });
  } catch (error) {
    // 503 (no search backend), 403 or anything else: the differential stands on its own
    if (!(error instanceof ApiError)) throw error;
    slot.replaceChildren();
    return [];
  }
  // a hit with (next to) no similarity matched only the filters: it says nothing about this patient
  const hits = result.hits
    .filter((hit) => hit.score === null || hit.score >= MIN_SCORE)
    .slice(0, SIMILAR_K);
  const unknown = [...new Set(hits.flatMap((hit) => hit.diagnoses))].filter((id) => !names.has(id));
  await Promise.all(
    unknown.slice(0, 6).map(async (id) => {
      try {
        const disease = await api.get(`/knowledge/diseases/${encodeURIComponent(id)}`);
        names.set(id, disease.name);
      } catch {
        // an id outside the knowledge base: shown as the id alone
      }
    }),
  );
  slot.replaceChildren(
    h(
      "section",
      { class: "similar" },
      head,
      hits.length
        ? h(
            "ol",
            { class: "similar__list" },
            hits.map((hit) => hitItem(hit, names)),
          )
        : h("p", { class: "muted", text: "No similar case in the store yet." }),
    ),
  );
  return hits;
}
