// "Write letter" (POST /letters): a referral letter in Markdown from the conversation's note,
// de-identified by the server, opened in an editor to check, download or copy. Nothing is kept.

import { ApiError, errorBox } from "./api.js";
import { h, icon, uid } from "./dom.js";

const FILE_NAME = "referral-letter.md";

/**
 * What a letter is written from: the text the doctor typed (context, de-identified by the server)
 * and the case as reviewed on the page — its findings are the letter's findings (a finding
 * removed here stays out even if the text mentions it), with sex and age.
 */
export function letterRequest(messages, casePayload) {
  const typed = messages.map((m) => m.trim()).filter(Boolean).join("\n\n");
  return typed ? { text: typed, case: casePayload } : { case: casePayload };
}

function letterAuthor(letter) {
  if (letter.source === "llm") return `Written by ${letter.model || "a language model"}`;
  if (letter.failed && letter.failed !== "llm_unavailable") {
    return `From a template (the language model failed: ${letter.failed})`;
  }
  return "From a template (no language model configured)";
}

function deidentifiedNote(counts) {
  const n = Object.values(counts || {}).reduce((sum, k) => sum + (Number(k) || 0), 0);
  return `De-identified: ${n} identifier${n === 1 ? "" : "s"} removed`;
}

function download(markdown, where) {
  const url = URL.createObjectURL(new Blob([markdown], { type: "text/markdown;charset=utf-8" }));
  const link = h("a", { href: url, download: FILE_NAME, hidden: true });
  where.append(link);
  link.click();
  link.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

async function copy(textarea) {
  try {
    await navigator.clipboard.writeText(textarea.value);
    return true;
  } catch {
    textarea.select();
    try {
      return document.execCommand("copy");
    } catch {
      return false;
    }
  }
}

/** The editor: a modal dialog; Escape or Close ends it and focus goes back to `opener`. */
function openEditor(letter, opener, announce) {
  const titleId = uid("letter-title");
  const textId = uid("letter-text");
  const metaId = uid("letter-meta");
  const textarea = h("textarea", {
    id: textId,
    class: "letter__text",
    rows: "16",
    spellcheck: "true",
    "aria-describedby": metaId,
  });
  textarea.value = letter.markdown;
  const status = h("p", { class: "letter__status", role: "status" });
  const close = h(
    "button",
    {
      type: "button",
      class: "button button--quiet letter__close",
      "aria-label": "Close the letter",
    },
    icon("close"),
  );
  const dialog = h(
    "dialog",
    { class: "letter", "aria-labelledby": titleId, "aria-describedby": metaId },
    h(
      "div",
      { class: "letter__head" },
      h("h2", { id: titleId, class: "letter__title", text: "Referral letter" }),
      close,
    ),
    h(
      "p",
      { id: metaId, class: "letter__meta" },
      `${letterAuthor(letter)} · ${deidentifiedNote(letter.deidentified)}. `,
      "Check and edit it before sending.",
    ),
    h("label", { class: "letter__label", for: textId, text: "Letter (Markdown)" }),
    textarea,
    h(
      "div",
      { class: "letter__actions" },
      h(
        "button",
        {
          type: "button",
          class: "button button--primary",
          onclick: () => {
            download(textarea.value, dialog);
            status.textContent = `Downloaded as ${FILE_NAME}.`;
          },
        },
        "Download .md",
      ),
      h(
        "button",
        {
          type: "button",
          class: "button button--secondary",
          onclick: async () => {
            status.textContent = (await copy(textarea))
              ? "Copied to the clipboard."
              : "Select the text and copy it with Ctrl+C.";
          },
        },
        "Copy",
      ),
      status,
    ),
  );
  close.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => {
    dialog.remove();
    if (opener.isConnected) opener.focus();
    announce("The letter is closed.");
  });
  document.body.append(dialog);
  dialog.showModal();
  textarea.setSelectionRange(0, 0);
  textarea.scrollTop = 0;
  textarea.focus();
  announce("The referral letter is ready to check and edit.");
  return dialog;
}

/**
 * The Write letter button. `note()` gives the request to write from (`letterRequest`); errors go to `errors` (a slot
 * next to the button).
 */
export function letterWriter({ api, announce, note, errors }) {
  let writing = false;
  const button = h(
    "button",
    { type: "button", class: "button button--secondary", dataset: { focusKey: "tools:letter" } },
    "Write letter",
  );
  button.addEventListener("click", async () => {
    if (writing) return;
    const request = note();
    writing = true;
    button.setAttribute("aria-disabled", "true");
    button.textContent = "Writing letter…";
    errors.replaceChildren();
    announce("Writing the referral letter…");
    try {
      const letter = await api.post("/letters", request);
      openEditor(letter, button, announce);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      errors.replaceChildren(errorBox(error, "The letter could not be written"));
      announce(`The letter could not be written: ${error.message}`);
    } finally {
      writing = false;
      button.removeAttribute("aria-disabled");
      button.textContent = "Write letter";
    }
  });
  return { button };
}
