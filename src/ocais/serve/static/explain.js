// "Explain" on a differential (POST /explanations): why the first candidates rank where they do,
// shown while it is written, by the site's language model or from a template when there is none.
// The text is model output: it is only ever inserted as text.

import { ApiError, errorBox } from "./api.js";
import { h, uid } from "./dom.js";

/** Who wrote an explanation, from the `X-OCAIS-Model` header. */
export function explanationAuthor(model) {
  return !model || model === "template"
    ? "From the evidence (no language model configured)"
    : `Written by ${model} from the evidence`;
}

/**
 * The Explain button and its panel. `request()` gives the body to explain (the same as the
 * differential's `POST /predict`). `clear()` stops and hides an explanation; `invalidate(body)`
 * does so when the shown one was written for another case.
 */
export function explainer({ api, announce, request }) {
  const panelId = uid("explain");
  const titleId = uid("explain-title");
  const button = h(
    "button",
    {
      type: "button",
      class: "button button--secondary",
      "aria-controls": panelId,
      dataset: { focusKey: "tools:explain" },
    },
    "Explain",
  );
  const author = h("p", { class: "section-note explain__author" });
  const text = h("p", { class: "explain__text" });
  const errors = h("div", { class: "error-slot" });
  const panel = h(
    "section",
    { class: "explain", id: panelId, "aria-labelledby": titleId },
    h(
      "div",
      { class: "section-head" },
      h("h3", { id: titleId, class: "section-title", text: "Explanation" }),
      author,
    ),
    text,
    errors,
  );
  panel.hidden = true;
  let controller = null;
  let shownFor = null; // the request the panel shows, as JSON

  function idle() {
    controller = null;
    button.removeAttribute("aria-disabled");
    button.textContent = "Explain";
    panel.removeAttribute("aria-busy");
  }

  function clear() {
    if (controller) controller.abort();
    idle();
    shownFor = null;
    panel.hidden = true;
    text.replaceChildren();
    errors.replaceChildren();
  }

  async function read(response, signal) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    for (;;) {
      let chunk;
      try {
        chunk = await reader.read();
      } catch (error) {
        if (signal.aborted) throw error;
        throw new ApiError(
          0,
          "stream_broken",
          "the explanation stopped before it was finished",
          "press Explain again",
        );
      }
      if (chunk.done) break;
      text.append(decoder.decode(chunk.value, { stream: true }));
    }
    text.append(decoder.decode());
  }

  async function run() {
    if (controller) return; // already writing: the button is disabled
    const body = request();
    const mine = new AbortController();
    controller = mine;
    shownFor = JSON.stringify(body);
    button.setAttribute("aria-disabled", "true");
    button.textContent = "Explaining…";
    panel.hidden = false;
    panel.setAttribute("aria-busy", "true");
    text.replaceChildren();
    errors.replaceChildren();
    author.textContent = "Writing…";
    announce("Writing the explanation…");
    try {
      const response = await api.postStream("/explanations", body, { signal: mine.signal });
      author.textContent = explanationAuthor(response.headers.get("X-OCAIS-Model"));
      await read(response, mine.signal);
      announce(`Explanation written. ${author.textContent}.`);
    } catch (error) {
      if (mine.signal.aborted) return;
      if (!(error instanceof ApiError)) throw error;
      if (!text.textContent) author.textContent = "";
      errors.replaceChildren(errorBox(error, "The explanation could not be written"));
      announce(`The explanation could not be written: ${error.message}`);
    } finally {
      if (controller === mine) idle();
    }
  }

  button.addEventListener("click", run);

  return {
    button,
    panel,
    clear,
    invalidate(body) {
      if (shownFor !== null && shownFor !== JSON.stringify(body)) clear();
    },
  };
}
