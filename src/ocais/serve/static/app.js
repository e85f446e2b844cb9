// The OCAIS chat page: sign in, describe a patient, refine the findings, read the differential.
// State lives in memory only: nothing about a patient goes to URLs, cookies or storage (a CDS
// card's link carries only a random prediction id, removed from the address bar once read).

import { ApiError, createApi, csrfFromCookie, errorBox } from "./api.js";
import { demographicsFrom } from "./cues.js";
import { fill, h, percent } from "./dom.js";
import { MAX_GENES, mergeGenes, parseGenes } from "./genes.js";
import { TOP_K, casePayload, createTurn } from "./turn.js";

const EXAMPLE =
  "7-year-old girl with recurrent seizures and global developmental delay since infancy. " +
  "Hypotonia. No microcephaly.";

const $ = (id) => document.getElementById(id);

const els = {
  sessionNav: $("session-nav"),
  sessionUser: $("session-user"),
  newCase: $("new-case"),
  logout: $("logout"),
  loginView: $("login-view"),
  loginForm: $("login-form"),
  loginError: $("login-error"),
  loginSubmit: $("login-submit"),
  username: $("login-username"),
  password: $("login-password"),
  chatView: $("chat-view"),
  conversation: $("conversation"),
  composer: $("composer"),
  text: $("case-text"),
  genes: $("case-genes"),
  send: $("send"),
  announcer: $("announcer"),
  footer: $("footer-info"),
};

const state = {
  user: null,
  turns: [],
  labels: new Map(), // HPO id → label
  names: new Map(), // disease id → name
  sending: false,
};

const api = createApi({
  onUnauthorized: () => showLogin("Your session has ended: sign in again."),
});

function announce(text) {
  // cleared first, so the same words are announced again
  els.announcer.textContent = "";
  window.setTimeout(() => {
    els.announcer.textContent = text;
  }, 60);
}

const context = { api, labels: state.labels, names: state.names, announce };

// --- session ------------------------------------------------------------------------------

function showLogin(message = "") {
  resetConversation();
  state.user = null;
  api.setCsrf(null);
  els.chatView.hidden = true;
  els.sessionNav.hidden = true;
  els.loginView.hidden = false;
  fill(els.loginError, message ? h("p", { class: "info", role: "status", text: message }) : null);
  els.password.value = "";
  (els.username.value ? els.password : els.username).focus();
}

function showChat(user) {
  state.user = user;
  els.loginView.hidden = true;
  els.chatView.hidden = false;
  els.sessionNav.hidden = false;
  els.sessionUser.textContent = `${user.name} · ${user.role}`;
  resetConversation();
  els.text.focus();
  loadVersion();
  openLinkedPrediction();
}

async function loadVersion() {
  try {
    const version = await api.get("/version");
    const k = version.knowledge || {};
    els.footer.replaceChildren(
      `${version.software} · HPO ${k.hpo_version || "?"} (annotations ${k.annotations_version || "?"}) · ${version.predictor} ranker · `,
      h("a", { href: "/docs", text: "API documentation" }),
    );
  } catch {
    // the footer keeps its default text
  }
}

async function login(event) {
  event.preventDefault();
  const username = els.username.value.trim();
  const password = els.password.value;
  els.loginError.replaceChildren();
  if (!username || !password) {
    els.loginError.replaceChildren(
      errorBox(new ApiError(0, "missing", "enter your user name and password")),
    );
    (username ? els.password : els.username).focus();
    return;
  }
  els.loginSubmit.setAttribute("aria-disabled", "true");
  els.loginSubmit.textContent = "Signing in…";
  try {
    const session = await api.post("/session", { username, password });
    api.setCsrf(session.csrf_token);
    els.password.value = "";
    showChat(session.user);
  } catch (error) {
    els.loginError.replaceChildren(errorBox(error, "Sign-in failed"));
    els.password.select();
    els.password.focus();
  } finally {
    els.loginSubmit.removeAttribute("aria-disabled");
    els.loginSubmit.textContent = "Sign in";
  }
}

async function logout() {
  try {
    await api.del("/session", { quiet401: true });
  } catch {
    // already ended: nothing to undo
  }
  showLogin("You are signed out.");
}

// --- conversation -------------------------------------------------------------------------

function intro() {
  const example = h(
    "button",
    {
      type: "button",
      class: "button button--link",
      onclick: () => {
        els.text.value = EXAMPLE;
        els.text.focus();
      },
    },
    "Use an example",
  );
  return h(
    "li",
    { class: "turn turn--intro" },
    h(
      "div",
      { class: "card card--intro" },
      h("h2", { class: "intro__title", text: "Describe the patient in your own words" }),
      h("p", {}, "For example: ", h("q", { text: EXAMPLE }), " ", example),
      h(
        "ul",
        { class: "intro__list" },
        h("li", {
          text: "The findings I recognise appear as HPO terms you can remove, negate or add to.",
        }),
        h("li", { text: "Diseases are ranked with the evidence for and against each one." }),
        h("li", { text: "Answer the suggested questions to narrow the differential." }),
        h("li", {
          text:
            "Genes in which a sequencing report found candidate variants, if you have them, rank diseases " +
            "on genotype too; without them I suggest genes worth testing.",
        }),
      ),
    ),
  );
}

function resetConversation() {
  for (const turn of state.turns) turn.dispose();
  state.turns = [];
  state.labels.clear();
  state.names.clear();
  els.conversation.replaceChildren(intro());
  els.text.value = "";
  els.genes.value = "";
  els.genes.setCustomValidity("");
}

function latestTurn() {
  return state.turns.length ? state.turns[state.turns.length - 1] : null;
}

function doctorMessage(text) {
  return h(
    "li",
    { class: "turn turn--doctor" },
    h(
      "div",
      { class: "bubble" },
      h("span", { class: "visually-hidden", text: "You wrote: " }),
      text,
    ),
  );
}

function thinking() {
  return h(
    "li",
    { class: "turn turn--pending", "aria-hidden": "true" },
    h(
      "div",
      { class: "bubble bubble--pending" },
      h("span", { class: "dots" }),
      "Reading the findings and ranking diseases…",
    ),
  );
}

async function send() {
  const text = els.text.value.trim();
  if (state.sending) return;
  if (!text) {
    els.text.focus();
    return;
  }
  const typedGenes = parseGenes(els.genes.value);
  if (typedGenes.length > MAX_GENES) {
    els.genes.setCustomValidity(`List at most ${MAX_GENES} genes`);
    els.genes.reportValidity();
    return;
  }
  els.genes.setCustomValidity("");
  state.sending = true;
  els.send.setAttribute("aria-disabled", "true");
  const previous = latestTurn();
  const cues = demographicsFrom(text);
  const model = previous
    ? {
        phenotypes: previous.model.phenotypes.map((p) => ({ ...p })),
        sex: previous.model.sex,
        age: previous.model.age,
        genes: mergeGenes(previous.model.genes, typedGenes),
      }
    : { phenotypes: [], sex: "unknown", age: null, genes: typedGenes };
  if (cues.sex && (model.sex === "unknown" || !model.sex)) model.sex = cues.sex;
  if (cues.age !== null && (model.age === null || model.age === undefined)) model.age = cues.age;

  const first = els.conversation.querySelector(".turn--intro");
  if (first) first.remove();
  const message = doctorMessage(text);
  const pending = thinking();
  els.conversation.append(message, pending);
  pending.scrollIntoView({ block: "nearest" });
  announce("Ranking diseases…");

  const body = { text, top_k: TOP_K };
  const structured = casePayload(model);
  if (
    structured.phenotypes.length ||
    structured.sex !== "unknown" ||
    structured.age_years !== null ||
    structured.genes
  ) {
    body.case = structured;
  }
  try {
    const response = await api.post("/predict", body);
    const notes = [...(previous ? previous.notes : []), text];
    const turn = createTurn(context, state.turns.length + 1, model, notes);
    if (previous) previous.freeze();
    state.turns.push(turn);
    pending.replaceWith(turn.el);
    const top = turn.apply(response, { fromText: true });
    els.text.value = "";
    els.genes.value = ""; // the genes are the case's now: the reply's findings show and edit them
    turn.el.scrollIntoView({ block: "start" });
    turn.heading.focus({ preventScroll: true });
    const n = turn.model.phenotypes.length;
    announce(
      `${n} finding${n === 1 ? "" : "s"} recognised. ` +
        (top ? `Top candidate ${top.name}, ${percent(top.probability)}.` : "No candidate."),
    );
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    pending.replaceWith(
      h("li", { class: "turn turn--error" }, errorBox(error, "I could not rank diseases")),
    );
    announce(`Error: ${error.message}`);
    els.text.focus();
  } finally {
    state.sending = false;
    els.send.removeAttribute("aria-disabled");
  }
}

// --- a differential opened from the EHR -----------------------------------------------------

// A CDS Hooks card links to `/#prediction=<id>`: the stored prediction's findings (HPO terms,
// sex, age — never the patient) are ranked again here, to refine. The id leaves the address bar.
const PREDICTION_LINK = /^#prediction=([0-9a-f-]{36})$/;

async function openLinkedPrediction() {
  const match = PREDICTION_LINK.exec(window.location.hash);
  if (!match || state.sending) return;
  window.history.replaceState(null, "", window.location.pathname);
  state.sending = true;
  const first = els.conversation.querySelector(".turn--intro");
  if (first) first.remove();
  const message = doctorMessage("Opened from the EHR: the findings of the chart's CDS card.");
  const pending = thinking();
  els.conversation.append(message, pending);
  try {
    const stored = await api.get(`/predictions/${match[1]}`);
    const terms = [
      ...stored.observed.map((t) => ({ ...t, excluded: false })),
      ...stored.excluded.map((t) => ({ ...t, excluded: true })),
    ];
    for (const t of terms) if (t.label) state.labels.set(t.id, t.label);
    const model = {
      phenotypes: terms.map((t) => ({ id: t.id, label: t.label, excluded: t.excluded })),
      sex: stored.sex,
      age: stored.age_years,
      genes: [],
    };
    const response = await api.post("/predict", { case: casePayload(model), top_k: TOP_K });
    const turn = createTurn(context, state.turns.length + 1, model, []);
    state.turns.push(turn);
    pending.replaceWith(turn.el);
    const top = turn.apply(response);
    turn.heading.focus({ preventScroll: true });
    announce(top ? `Top candidate ${top.name}, ${percent(top.probability)}.` : "No candidate.");
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    pending.replaceWith(
      h("li", { class: "turn turn--error" }, errorBox(error, "I could not open the EHR's case")),
    );
  } finally {
    state.sending = false;
  }
}

// --- wiring ---------------------------------------------------------------------------------

els.loginForm.addEventListener("submit", login);
els.logout.addEventListener("click", logout);
els.newCase.addEventListener("click", () => {
  resetConversation();
  announce("New case: the conversation is cleared.");
  els.text.focus();
});
els.composer.addEventListener("submit", (event) => {
  event.preventDefault();
  send();
});
els.genes.addEventListener("input", () => els.genes.setCustomValidity(""));
els.text.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    send();
  }
});

async function start() {
  const csrf = csrfFromCookie();
  if (csrf) {
    try {
      const user = await api.get("/session", { quiet401: true });
      api.setCsrf(csrf);
      showChat(user);
      return;
    } catch {
      // expired or ended: sign in again
    }
  }
  showLogin();
}

start();
