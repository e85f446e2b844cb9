// Feedback on one prediction (POST /feedback): the confirmed diagnosis, a 1–5 rating, a comment.
// The form follows the turn's latest prediction; what was typed stays when the ranking changes.

import { ApiError, errorBox } from "./api.js";
import { fill, h, uid } from "./dom.js";

const OTHER = "__other__";
const DISEASE_ID = /^(OMIM|ORPHA|MONDO|DECIPHER):\S+$/i;
const RATINGS = [
  [1, "not useful"],
  [2, "slightly useful"],
  [3, "useful"],
  [4, "very useful"],
  [5, "decisive"],
];

export function feedbackForm({ api, announce }) {
  const titleId = uid("feedback-title");
  const selectId = uid("confirmed");
  const otherId = uid("other");
  const commentId = uid("comment");
  const helpId = uid("comment-help");
  const ratingName = uid("rating");
  let predictionId = null;
  let candidates = [];
  let sending = false;

  const select = h("select", { id: selectId, name: "confirmed" });
  const other = h("input", {
    id: otherId,
    name: "other",
    type: "text",
    autocomplete: "off",
    spellcheck: "false",
    maxlength: "300",
    placeholder: "e.g. OMIM:123456 or a diagnosis name",
  });
  const otherField = h(
    "div",
    { class: "field" },
    h("label", { for: otherId, text: "Other diagnosis (OMIM/ORPHA id or name)" }),
    other,
  );
  otherField.hidden = true;
  const comment = h("textarea", {
    id: commentId,
    name: "comment",
    rows: "2",
    maxlength: "2000",
    "aria-describedby": helpId,
  });
  const status = h("p", { class: "feedback__status", role: "status" });
  const errors = h("div", { class: "error-slot" });
  const submit = h(
    "button",
    { type: "submit", class: "button button--secondary" },
    "Send feedback",
  );

  const ratings = h(
    "fieldset",
    { class: "rating" },
    h("legend", { text: "How useful is this differential?" }),
    h(
      "div",
      { class: "rating__options" },
      RATINGS.map(([value, meaning]) => {
        const id = uid("rate");
        return h(
          "span",
          { class: "rating__option" },
          h("input", { type: "radio", name: ratingName, id, value: String(value) }),
          h(
            "label",
            { for: id, title: meaning },
            String(value),
            h("span", { class: "visually-hidden", text: ` — ${meaning}` }),
          ),
        );
      }),
    ),
    h(
      "p",
      { class: "rating__scale", "aria-hidden": "true" },
      h("span", { text: "not useful" }),
      h("span", { text: "decisive" }),
    ),
  );

  function fillOptions() {
    const chosen = select.value;
    fill(
      select,
      h("option", { value: "", text: "Not confirmed yet" }),
      candidates.map((c) =>
        h("option", { value: c.disease_id, text: `${c.rank}. ${c.name} (${c.disease_id})` }),
      ),
      h("option", { value: OTHER, text: "Another diagnosis…" }),
    );
    select.value = [...select.options].some((o) => o.value === chosen) ? chosen : "";
    otherField.hidden = select.value !== OTHER;
  }

  select.addEventListener("change", () => {
    otherField.hidden = select.value !== OTHER;
    if (!otherField.hidden) other.focus();
  });

  const form = h(
    "form",
    { class: "feedback", novalidate: true },
    h(
      "div",
      { class: "section-head" },
      h("h3", { id: titleId, class: "section-title", text: "Feedback" }),
      h("p", { class: "section-note", text: "Helps measure and improve the ranking" }),
    ),
    ratings,
    h(
      "div",
      { class: "feedback__grid" },
      h(
        "div",
        { class: "field" },
        h("label", { for: selectId, text: "Confirmed diagnosis" }),
        select,
      ),
      otherField,
      h(
        "div",
        { class: "field field--wide" },
        h("label", { for: commentId, text: "Comment (optional)" }),
        comment,
        h("p", {
          class: "help",
          id: helpId,
          text: "Stored and shown to administrators. No patient identifiers.",
        }),
      ),
    ),
    errors,
    h("div", { class: "feedback__actions" }, submit, status),
  );

  form.addEventListener("input", () => {
    status.textContent = "";
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errors.replaceChildren();
    const body = { prediction_id: predictionId };
    const rating = form.querySelector(`input[name="${ratingName}"]:checked`);
    if (rating) body.rating = Number(rating.value);
    if (select.value === OTHER) {
      const text = other.value.trim();
      if (text)
        body.confirmed_diagnosis = DISEASE_ID.test(text)
          ? { disease_id: text.toUpperCase() }
          : { label: text };
    } else if (select.value) {
      const chosen = candidates.find((c) => c.disease_id === select.value);
      body.confirmed_diagnosis = {
        disease_id: select.value,
        label: chosen ? chosen.name : undefined,
      };
    }
    if (comment.value.trim()) body.comment = comment.value.trim();
    if (!body.rating && !body.confirmed_diagnosis && !body.comment) {
      errors.replaceChildren(
        errorBox(
          new ApiError(
            0,
            "empty",
            "nothing to send",
            "choose a rating, a confirmed diagnosis or write a comment",
          ),
        ),
      );
      return;
    }
    if (sending) return;
    sending = true;
    submit.setAttribute("aria-disabled", "true");
    status.textContent = "Sending…";
    try {
      const saved = await api.post("/feedback", body);
      status.textContent = `Saved (feedback #${saved.id}${saved.rank_of_confirmed ? `; the confirmed diagnosis was ranked ${saved.rank_of_confirmed}` : ""}). Thank you.`;
      announce("Feedback saved");
    } catch (error) {
      status.textContent = "";
      errors.replaceChildren(errorBox(error, "The feedback was not saved"));
    } finally {
      sending = false;
      submit.removeAttribute("aria-disabled");
    }
  });

  return {
    root: form,
    /** Follow a new prediction of the turn. */
    setPrediction(id, newCandidates) {
      if (id !== predictionId) status.textContent = "";
      predictionId = id;
      candidates = newCandidates || [];
      fillOptions();
    },
  };
}
