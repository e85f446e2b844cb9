// The case's findings as chips (present / absent; remove, negate), a term autocomplete to add
// more, sex and age, and the candidate genes (optional). Every change calls
// `onChange(description)`: the turn predicts again.

import { termCombobox } from "./combobox.js";
import { h, icon, keepFocus, srOnly, uid } from "./dom.js";
import { MAX_GENES, genesCount, genesText, parseGenes } from "./genes.js";

const SEXES = [
  ["unknown", "Not given"],
  ["female", "Female"],
  ["male", "Male"],
  ["other", "Other"],
];

function chip(finding, editable, handlers) {
  const state = finding.excluded ? "absent" : "present";
  const toggleLabel = finding.excluded
    ? `Mark ${finding.label} as present`
    : `Mark ${finding.label} as absent`;
  return h(
    "li",
    {
      class: `chip chip--${finding.excluded ? "excluded" : "observed"}`,
      dataset: { term: finding.id },
      title: finding.id,
    },
    finding.excluded ? h("span", { class: "chip__no", "aria-hidden": "true", text: "no" }) : null,
    h("span", { class: "chip__label", text: finding.label }),
    srOnly(`, ${state} (${finding.id})`),
    editable
      ? [
          h(
            "button",
            {
              type: "button",
              class: "chip__button",
              "aria-label": toggleLabel,
              title: toggleLabel,
              dataset: { focusKey: `toggle:${finding.id}` },
              onclick: () => handlers.toggle(finding.id),
            },
            icon(finding.excluded ? "present" : "absent"),
          ),
          h(
            "button",
            {
              type: "button",
              class: "chip__button",
              "aria-label": `Remove ${finding.label}`,
              title: `Remove ${finding.label}`,
              dataset: { focusKey: `remove:${finding.id}` },
              onclick: () => handlers.remove(finding.id),
            },
            icon("close"),
          ),
        ]
      : null,
  );
}

/**
 * The findings editor of one turn. `model` holds {phenotypes: [{id, label, excluded}], sex,
 * age, genes}; `notCounted` lists mentions left out (family history, uncertain).
 */
export function findingsSection({ api, model, onChange }) {
  const titleId = uid("findings-title");
  const chips = h("ul", { class: "chips", "aria-labelledby": titleId });
  const notes = h("div", { class: "findings__notes" });
  const absentId = uid("absent");
  const absent = h("input", { type: "checkbox", id: absentId, class: "check__input" });
  let editable = true;

  const combo = termCombobox({
    api,
    label: "Add a finding",
    placeholder: "Search HPO, e.g. hypotonia",
    focusKey: "add",
    onPick: (term) => {
      const excluded = absent.checked;
      const existing = model.phenotypes.find((p) => p.id === term.id);
      if (existing) existing.excluded = excluded;
      else model.phenotypes.push({ id: term.id, label: term.name, excluded });
      absent.checked = false;
      renderChips();
      onChange(`${excluded ? "Recorded as absent" : "Added"}: ${term.name}`);
    },
  });

  const sexId = uid("sex");
  const ageId = uid("age");
  const sex = h(
    "select",
    {
      id: sexId,
      onchange: () => {
        model.sex = sex.value;
        onChange(`Sex: ${sex.options[sex.selectedIndex].text.toLowerCase()}`);
      },
    },
    SEXES.map(([value, text]) => h("option", { value, text })),
  );
  const age = h("input", {
    id: ageId,
    type: "number",
    inputmode: "decimal",
    min: "0",
    max: "150",
    step: "any",
    placeholder: "—",
    onchange: () => {
      const value = age.value.trim() === "" ? null : Number(age.value);
      if (value !== null && (!Number.isFinite(value) || value < 0 || value > 150)) {
        age.setCustomValidity("Age must be between 0 and 150 years");
        age.reportValidity();
        return;
      }
      age.setCustomValidity("");
      model.age = value;
      onChange(value === null ? "Age removed" : `Age: ${value} years`);
    },
  });

  const genesId = uid("genes");
  const genes = h("input", {
    id: genesId,
    autocomplete: "off",
    autocapitalize: "characters",
    spellcheck: "false",
    placeholder: "Optional, e.g. FBN1, TGFBR2",
    onchange: () => commitGenes(),
    onkeydown: (event) => {
      if (event.key === "Enter" && !event.isComposing) {
        event.preventDefault();
        commitGenes();
      }
    },
    oninput: () => genes.setCustomValidity(""),
  });

  function commitGenes() {
    const list = parseGenes(genes.value);
    if (list.length > MAX_GENES) {
      genes.setCustomValidity(`List at most ${MAX_GENES} genes`);
      genes.reportValidity();
      return;
    }
    genes.setCustomValidity("");
    genes.value = genesText(list);
    if (genesText(list) === genesText(model.genes)) return;
    model.genes = list;
    onChange(
      list.length
        ? `Candidate genes: ${list.length <= 3 ? genesText(list) : genesCount(list)}`
        : "Candidate genes removed",
    );
  }

  const handlers = {
    toggle(id) {
      const finding = model.phenotypes.find((p) => p.id === id);
      if (!finding) return;
      finding.excluded = !finding.excluded;
      renderChips();
      onChange(`${finding.label}: ${finding.excluded ? "absent" : "present"}`);
    },
    remove(id) {
      const index = model.phenotypes.findIndex((p) => p.id === id);
      if (index < 0) return;
      const [removed] = model.phenotypes.splice(index, 1);
      const next = model.phenotypes[index] || model.phenotypes[index - 1];
      renderChips(next ? `remove:${next.id}` : null);
      onChange(`Removed: ${removed.label}`);
    },
  };

  function renderChips(focusInstead = null) {
    keepFocus(
      chips,
      () => {
        chips.replaceChildren(...model.phenotypes.map((p) => chip(p, editable, handlers)));
        if (!model.phenotypes.length) {
          chips.append(h("li", { class: "chips__empty", text: "No findings: add one below." }));
        }
      },
      () =>
        (focusInstead && chips.querySelector(`[data-focus-key="${CSS.escape(focusInstead)}"]`)) ||
        combo.input,
    );
  }

  function renderNotes(notCounted, newFindings) {
    const parts = [];
    if (newFindings === 0) {
      parts.push(
        h("p", {
          class: "findings__note",
          text: "No new finding was recognised in the last message.",
        }),
      );
    }
    if (notCounted && notCounted.length) {
      parts.push(
        h(
          "p",
          { class: "findings__note" },
          "Not counted: ",
          notCounted.map((m, i) => [
            i ? ", " : "",
            h("q", { text: m.text }),
            ` (${m.family ? "family history" : "uncertain"})`,
          ]),
        ),
      );
    }
    notes.replaceChildren(...parts);
  }

  function syncDemographics() {
    sex.value = model.sex || "unknown";
    if (document.activeElement !== age) age.value = model.age === null ? "" : String(model.age);
    if (document.activeElement !== genes) genes.value = genesText(model.genes);
  }

  const editor = h(
    "div",
    { class: "findings__editor" },
    h(
      "div",
      { class: "findings__add" },
      combo.root,
      h(
        "div",
        { class: "check" },
        absent,
        h("label", { for: absentId, text: "absent in the patient" }),
      ),
    ),
    h(
      "div",
      { class: "findings__demo" },
      h("div", { class: "field field--inline" }, h("label", { for: sexId, text: "Sex" }), sex),
      h(
        "div",
        { class: "field field--inline" },
        h("label", { for: ageId, text: "Age (years)" }),
        age,
      ),
    ),
    h(
      "div",
      { class: "field findings__genes" },
      h("label", { for: genesId, text: "Candidate genes" }),
      genes,
    ),
  );

  const readOnlyDemo = h("p", { class: "findings__demo-text" });
  readOnlyDemo.hidden = true;

  const root = h(
    "section",
    { class: "findings" },
    h(
      "div",
      { class: "section-head" },
      h("h3", { id: titleId, class: "section-title", text: "Findings" }),
      h("p", { class: "section-note", text: "HPO terms used for the ranking" }),
    ),
    chips,
    notes,
    editor,
    readOnlyDemo,
  );

  renderChips();
  syncDemographics();

  return {
    root,
    render({ notCounted, newFindings } = {}) {
      renderChips();
      if (notCounted !== undefined) renderNotes(notCounted, newFindings);
      syncDemographics();
    },
    focusAdd: () => combo.focus(),
    /** The turn is history now: show the findings without editing controls. */
    freeze() {
      editable = false;
      renderChips();
      editor.remove();
      const bits = [];
      if (model.sex && model.sex !== "unknown") bits.push(`Sex: ${model.sex}`);
      if (model.age !== null && model.age !== undefined) bits.push(`age: ${model.age} years`);
      if (model.genes && model.genes.length) bits.push(`genes: ${genesText(model.genes)}`);
      const text = bits.join(", ");
      readOnlyDemo.textContent = text.charAt(0).toUpperCase() + text.slice(1);
      readOnlyDemo.hidden = !bits.length;
    },
  };
}
