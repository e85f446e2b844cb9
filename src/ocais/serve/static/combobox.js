// HPO term autocomplete: the WAI-ARIA 1.2 combobox pattern (list autocomplete, manual selection).
// Keys: Down/Up move through the suggestions, Enter chooses, Escape closes (again: clears).

import { ApiError } from "./api.js";
import { h, uid } from "./dom.js";

const DEBOUNCE_MS = 180;
const MIN_CHARS = 2;
const LIMIT = 8;

/**
 * A labelled input suggesting HPO terms from `GET /knowledge/terms?q=`.
 * `onPick(term)` receives the chosen term ({id, name, synonyms, ...}).
 */
export function termCombobox({ api, label, placeholder, onPick, focusKey }) {
  const inputId = uid("term-input");
  const listId = uid("term-list");
  const statusId = uid("term-status");
  const input = h("input", {
    id: inputId,
    class: "combo__input",
    type: "text",
    role: "combobox",
    "aria-autocomplete": "list",
    "aria-expanded": "false",
    "aria-controls": listId,
    "aria-describedby": statusId,
    autocomplete: "off",
    autocapitalize: "none",
    spellcheck: "false",
    placeholder,
    dataset: focusKey ? { focusKey } : undefined,
  });
  const list = h("ul", { id: listId, class: "combo__list", role: "listbox", "aria-label": label });
  list.hidden = true;
  const status = h("p", { id: statusId, class: "combo__status", "aria-live": "polite" });
  const root = h(
    "div",
    { class: "combo" },
    h("label", { class: "combo__label", for: inputId, text: label }),
    h("div", { class: "combo__field" }, input, list),
    status,
  );

  let terms = [];
  let active = -1;
  let timer = null;
  let controller = null;

  function setStatus(text) {
    status.textContent = text;
  }

  function close() {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  }

  function highlight(index) {
    const options = list.querySelectorAll("[role=option]");
    options.forEach((option, i) => option.setAttribute("aria-selected", String(i === index)));
    active = index;
    if (index >= 0 && options[index]) {
      input.setAttribute("aria-activedescendant", options[index].id);
      options[index].scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  function synonymHint(term, query) {
    const words = query.toLowerCase().split(/\s+/).filter(Boolean);
    const matches = (text) => words.every((w) => text.toLowerCase().includes(w));
    if (matches(term.name)) return null;
    return (term.synonyms || []).find(matches) || null;
  }

  function render(query) {
    list.replaceChildren(
      ...terms.map((term, i) => {
        const synonym = synonymHint(term, query);
        return h(
          "li",
          {
            id: `${listId}-${i}`,
            class: "combo__option",
            role: "option",
            "aria-selected": "false",
            onmousedown: (event) => event.preventDefault(), // keep focus in the input
            onclick: () => choose(i),
          },
          h("span", { class: "combo__name", text: term.name }),
          h("span", { class: "combo__id", text: term.id }),
          synonym ? h("span", { class: "combo__synonym", text: `also: ${synonym}` }) : null,
        );
      }),
    );
    if (terms.length) {
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
      highlight(-1);
      setStatus(`${terms.length} suggestion${terms.length === 1 ? "" : "s"}: use the arrow keys`);
    } else {
      close();
      setStatus(query ? "No matching phenotype in HPO" : "");
    }
  }

  async function lookup(query) {
    if (controller) controller.abort();
    controller = new AbortController();
    const params = new URLSearchParams({ q: query, limit: String(LIMIT) });
    try {
      terms = await api.get(`/knowledge/terms?${params}`, { signal: controller.signal });
      if (input.value.trim() === query) render(query);
    } catch (error) {
      if (error.name === "AbortError") return;
      terms = [];
      close();
      setStatus(error instanceof ApiError ? `Suggestions unavailable: ${error.message}` : "");
    }
  }

  function choose(index) {
    const term = terms[index];
    if (!term) return;
    close();
    input.value = "";
    terms = [];
    setStatus(`Added ${term.name}`);
    onPick(term);
  }

  input.addEventListener("input", () => {
    clearTimeout(timer);
    const query = input.value.trim();
    if (query.length < MIN_CHARS) {
      if (controller) controller.abort();
      terms = [];
      close();
      setStatus("");
      return;
    }
    timer = setTimeout(() => lookup(query), DEBOUNCE_MS);
  });

  input.addEventListener("keydown", (event) => {
    const open = !list.hidden;
    switch (event.key) {
      case "ArrowDown":
        event.preventDefault();
        if (!terms.length) return;
        if (!open) {
          list.hidden = false;
          input.setAttribute("aria-expanded", "true");
        }
        highlight(active + 1 >= terms.length ? 0 : active + 1);
        break;
      case "ArrowUp":
        event.preventDefault();
        if (!terms.length) return;
        if (!open) {
          list.hidden = false;
          input.setAttribute("aria-expanded", "true");
        }
        highlight(active <= 0 ? terms.length - 1 : active - 1);
        break;
      case "Enter":
        // never submit a form from here: Enter either chooses or does nothing
        event.preventDefault();
        if (open && active >= 0) choose(active);
        else if (open && terms.length === 1) choose(0);
        else if (terms.length) setStatus("Choose a suggestion with the arrow keys, then Enter");
        break;
      case "Escape":
        if (open) {
          event.preventDefault();
          event.stopPropagation();
          close();
        } else if (input.value) {
          event.preventDefault();
          input.value = "";
          terms = [];
          setStatus("");
        }
        break;
      case "Tab":
        close();
        break;
      default:
        break;
    }
  });

  input.addEventListener("blur", () => setTimeout(close, 120));

  return {
    root,
    input,
    focus: () => input.focus(),
  };
}
