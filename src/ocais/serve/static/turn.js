// One reply in the conversation: the findings (editable while it is the latest reply), the
// differential, what to ask next, similar cases and feedback. Edits rank the case again in place.

import { ApiError, errorBox } from "./api.js";
import { differentialSection } from "./differential.js";
import { h, keepFocus, percent, uid } from "./dom.js";
import { explainer } from "./explain.js";
import { feedbackForm } from "./feedback.js";
import { findingsSection } from "./findings.js";
import { genesCount } from "./genes.js";
import { letterRequest, letterWriter } from "./letter.js";
import { genesSection, questionsSection } from "./questions.js";
import { loadSimilar } from "./similar.js";
import { unmappedSection } from "./unmapped.js";

export const TOP_K = 10;

/**
 * The structured case of a model, as `POST /predict` takes it; `genes` only when the clinician
 * listed some (the service then ranks on genotype too).
 */
export function casePayload(model) {
  const payload = {
    phenotypes: model.phenotypes.map((p) => ({ id: p.id, excluded: p.excluded })),
    sex: model.sex || "unknown",
    age_years: model.age === undefined ? null : model.age,
  };
  if (model.genes && model.genes.length) payload.genes = [...model.genes];
  return payload;
}

function rememberLabels(labels, response) {
  for (const m of response.mentions || []) labels.set(m.id, m.label);
  const prediction = response.prediction;
  for (const n of prediction.next_phenotypes || []) labels.set(n.id, n.label);
  for (const c of prediction.candidates || []) {
    const ev = c.evidence || {};
    for (const m of ev.matched || []) labels.set(m.patient_term, m.patient_label);
    for (const t of [...(ev.unexplained || []), ...(ev.conflicts || [])]) labels.set(t.id, t.label);
  }
}

/**
 * A reply. `ctx`: {api, labels: Map id→label, names: Map disease id→name, announce(text)}.
 * `model`: {phenotypes: [{id, label, excluded}], sex, age, genes: [symbols]} — the case this
 * reply ranks.
 * `notes`: what the doctor typed up to this reply (a referral letter is written from it).
 */
export function createTurn(ctx, number, model, notes = []) {
  const { api, labels, names, announce } = ctx;
  const headingId = uid("turn-title");
  const bodyId = uid("turn-body");
  const view = {
    openWhy: new Set(),
    showAll: false,
    similarCounts: new Map(),
    onToggleAll: () => {
      view.showAll = !view.showAll;
      renderDifferential();
    },
  };
  let response = null;
  let inflight = false;
  let pending = null;
  let similarRequest = 0;
  let frozen = false;
  let unmapped = [];

  const heading = h(
    "h2",
    { id: headingId, class: "turn__title", tabindex: "-1" },
    `Assessment ${number}`,
  );
  const meta = h("p", { class: "turn__meta" });
  const status = h("p", { class: "turn__status" });
  const summary = h("p", { class: "turn__summary" });
  summary.hidden = true;
  const toggle = h("button", {
    type: "button",
    class: "button button--link turn__toggle",
    "aria-expanded": "true",
    "aria-controls": bodyId,
  });
  toggle.hidden = true;

  const findings = findingsSection({ api, model, onChange: (what) => repredict(what) });
  const errors = h("div", { class: "error-slot" });
  const unmappedSlot = h("div", { class: "slot slot--unmapped" });
  const ddxBox = h("div", { class: "ddx-box" });
  const explain = explainer({ api, announce, request: () => predictBody() });
  const toolErrors = h("div", { class: "error-slot" });
  const letter = letterWriter({
    api,
    announce,
    note: () => letterRequest(notes, casePayload(model)),
    errors: toolErrors,
  });
  const tools = h(
    "div",
    { class: "tools" },
    h(
      "div",
      { class: "tools__buttons", role: "group", "aria-label": "Explain or refer" },
      explain.button,
      letter.button,
    ),
    toolErrors,
    explain.panel,
  );
  const ddxSlot = h("div", { class: "slot slot--ddx" }, ddxBox, tools);
  const nextSlot = h("div", { class: "slot slot--next" });
  const similarSlot = h("div", { class: "slot slot--similar" });
  const results = h("div", { class: "turn__results" }, ddxSlot, nextSlot, similarSlot);
  const feedback = feedbackForm({ api, announce });
  const body = h(
    "div",
    { class: "turn__body", id: bodyId },
    errors,
    findings.root,
    unmappedSlot,
    results,
    feedback.root,
  );

  const el = h(
    "li",
    { class: "turn turn--assistant" },
    h(
      "article",
      { class: "card", "aria-labelledby": headingId },
      h(
        "header",
        { class: "turn__head" },
        h("div", { class: "turn__heading" }, heading, meta),
        toggle,
      ),
      summary,
      status,
      body,
    ),
  );

  toggle.addEventListener("click", () => {
    const open = body.hidden;
    body.hidden = !open;
    toggle.setAttribute("aria-expanded", String(open));
    toggle.textContent = open ? "Hide details" : "Show details";
  });

  /** The body of `POST /predict` for the case as it stands (an explanation is asked with it). */
  function predictBody() {
    return { case: casePayload(model), top_k: TOP_K };
  }

  function renderDifferential() {
    keepFocus(
      ddxBox,
      () => ddxBox.replaceChildren(differentialSection(response.prediction, view)),
      () => heading,
    );
  }

  function renderQuestions() {
    const section = frozen
      ? null
      : questionsSection({
          nextPhenotypes: response.prediction.next_phenotypes,
          names,
          onAnswer: (term, excluded) => {
            const existing = model.phenotypes.find((p) => p.id === term.id);
            if (existing) existing.excluded = excluded;
            else model.phenotypes.push({ id: term.id, label: term.label, excluded });
            findings.render();
            const chip = findings.root.querySelector(
              `[data-focus-key="${CSS.escape(`toggle:${term.id}`)}"]`,
            );
            if (chip) chip.focus();
            repredict(`${term.label}: ${excluded ? "absent" : "present"}`);
          },
        });
    const panel = frozen
      ? null
      : genesSection({ genesToTest: response.prediction.genes_to_test, names });
    keepFocus(
      nextSlot,
      () => nextSlot.replaceChildren(...[section, panel].filter(Boolean)),
      () => heading,
    );
  }

  /** What the text said that no finding was read from, with clickable suggestions. */
  function renderUnmapped(spans) {
    const section = frozen
      ? null
      : unmappedSection({
          unmapped: spans,
          onPick: (term, span) => {
            if (!model.phenotypes.some((p) => p.id === term.id)) {
              model.phenotypes.push({ id: term.id, label: term.label, excluded: false });
            }
            unmapped = unmapped.filter((u) => u !== span);
            findings.render();
            renderUnmapped(unmapped);
            repredict(`${term.label}: present`);
          },
        });
    unmappedSlot.replaceChildren(...(section ? [section] : []));
  }

  async function refreshSimilar() {
    const request = ++similarRequest;
    const observed = model.phenotypes.filter((p) => !p.excluded).map((p) => p.id);
    const hits = await loadSimilar({ api, slot: similarSlot, observed, names });
    if (request !== similarRequest || !response) return;
    view.similarCounts = new Map();
    for (const hit of hits) {
      for (const id of new Set(hit.diagnoses))
        view.similarCounts.set(id, (view.similarCounts.get(id) || 0) + 1);
    }
    if (view.similarCounts.size) renderDifferential();
  }

  function describe(prediction) {
    const provenance = prediction.provenance || {};
    const n = model.phenotypes.length;
    meta.textContent = [
      `${n} finding${n === 1 ? "" : "s"}`,
      model.genes && model.genes.length ? genesCount(model.genes) : null,
      `${prediction.predictor} ranker`,
      provenance.knowledge_version ? `HPO ${provenance.knowledge_version}` : null,
    ]
      .filter(Boolean)
      .join(" · ");
  }

  /** Show a prediction response; `fromText`: the findings come from the message's mentions. */
  function apply(next, { fromText = false } = {}) {
    response = next;
    rememberLabels(labels, next);
    const used = new Set([...next.input.observed, ...next.input.excluded]);
    const excluded = new Set(next.input.excluded);
    let newFindings;
    if (fromText) {
      const before = new Set(model.phenotypes.map((p) => p.id));
      const mentioned = (next.mentions || [])
        .filter((m) => !m.family && !m.uncertain)
        .map((m) => m.id);
      newFindings = new Set(mentioned.filter((id) => !before.has(id))).size;
      const order = [...before, ...mentioned, ...next.input.observed, ...next.input.excluded];
      const seen = new Set();
      model.phenotypes = [];
      for (const id of order) {
        if (!used.has(id) || seen.has(id)) continue;
        seen.add(id);
        model.phenotypes.push({ id, label: labels.get(id) || id, excluded: excluded.has(id) });
      }
    } else if (!pending) {
      // the server's reading wins (a term both present and absent counts as present)
      for (const p of model.phenotypes) if (used.has(p.id)) p.excluded = excluded.has(p.id);
    }
    for (const c of next.prediction.candidates) names.set(c.disease_id, c.name);
    const notCounted = fromText
      ? (next.mentions || []).filter((m) => m.family || m.uncertain)
      : undefined;
    findings.render({ notCounted, newFindings: fromText && number > 1 ? newFindings : undefined });
    if (fromText) {
      unmapped = next.unmapped || [];
      renderUnmapped(unmapped);
    }
    errors.replaceChildren();
    results.classList.remove("turn__results--stale");
    describe(next.prediction);
    explain.invalidate(predictBody()); // an explanation of another ranking goes
    renderDifferential();
    renderQuestions();
    feedback.setPrediction(next.prediction_id, next.prediction.candidates);
    const top = next.prediction.candidates[0];
    summary.textContent = top ? `Top candidate: ${top.name} (${percent(top.probability)})` : "";
    refreshSimilar();
    return top;
  }

  async function repredict(what) {
    if (inflight) {
      pending = what;
      return;
    }
    inflight = true;
    el.setAttribute("aria-busy", "true");
    status.textContent = `${what} — ranking again…`;
    try {
      const next = await api.post("/predict", predictBody());
      if (pending) {
        status.textContent = `${pending} — ranking again…`;
      } else {
        const top = apply(next);
        status.textContent = `Updated after: ${what}.`;
        announce(
          top
            ? `Differential updated after ${what}. Top candidate ${top.name}, ${percent(top.probability)}.`
            : `Differential updated after ${what}. No candidate.`,
        );
      }
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      status.textContent = "";
      errors.replaceChildren(errorBox(error, "The differential could not be updated"));
      results.classList.add("turn__results--stale");
      announce(`The differential could not be updated: ${error.message}`);
    } finally {
      inflight = false;
      el.removeAttribute("aria-busy");
      if (pending) {
        const again = pending;
        pending = null;
        repredict(again);
      }
    }
  }

  return {
    el,
    model,
    notes,
    heading,
    apply,
    focusAdd: () => findings.focusAdd(),
    /** A newer reply took over: keep this one as read-only history, collapsed. */
    freeze() {
      frozen = true;
      findings.freeze();
      nextSlot.replaceChildren();
      unmappedSlot.replaceChildren();
      status.textContent = "";
      summary.hidden = !summary.textContent;
      body.hidden = true;
      toggle.hidden = false;
      toggle.setAttribute("aria-expanded", "false");
      toggle.textContent = "Show details";
      el.classList.add("turn--history");
    },
    /** The conversation ends: stop what is still being written. */
    dispose() {
      explain.clear();
    },
  };
}
