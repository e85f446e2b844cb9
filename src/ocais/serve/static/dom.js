// Small DOM helpers: elements from data (text only, never HTML), icons, ids, focus keeping.

let counter = 0;

/** A page-unique id with a readable prefix. */
export function uid(prefix) {
  counter += 1;
  return `${prefix}-${counter}`;
}

/**
 * Create an element. Attributes: `class`, `text`, `dataset`, `style` (object), `on<event>`
 * handlers; `true` sets an empty attribute, `false`/`null`/`undefined` leave it out.
 * Children are nodes or strings (inserted as text, so API data can never inject markup).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "style") Object.assign(el.style, value);
    else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

/** Replace `el`'s content with `children` (as for `h`: nested arrays, no null/false). */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

const ICONS = {
  close:
    "M6.4 5 5 6.4 10.6 12 5 17.6 6.4 19l5.6-5.6 5.6 5.6 1.4-1.4-5.6-5.6L19 6.4 17.6 5 12 10.6z",
  // a circle with a bar: "absent"
  absent:
    "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm0 2a8 8 0 0 1 6.3 12.9L7.1 5.7A8 8 0 0 1 12 4zM4 12" +
    "a8 8 0 0 1 1.7-4.9l11.2 11.2A8 8 0 0 1 4 12z",
  // a check in a circle: "present"
  present:
    "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm0 2a8 8 0 1 1 0 16 8 8 0 0 1 0-16zm4.3 4.3L10.5" +
    " 14l-2.8-2.8-1.4 1.4 4.2 4.2 7.2-7.1z",
  chevron: "M8.6 16.6 13.2 12 8.6 7.4 10 6l6 6-6 6z",
  check: "M9 16.2 4.8 12l-1.4 1.4L9 19 21 7l-1.4-1.4z",
  question:
    "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm1 17h-2v-2h2v2zm2.1-7.8-.9.9c-.7.7-1.2 1.3-1.2 2.9" +
    "h-2v-.5c0-1.1.4-2.1 1.2-2.8l1.2-1.3c.4-.4.6-.9.6-1.4a2 2 0 1 0-4 0H8a4 4 0 1 1 8 0c0 .9-.4" +
    " 1.6-.9 2.2z",
  users:
    "M16 11a3 3 0 1 0 0-6 3 3 0 0 0 0 6zm-8 0a3 3 0 1 0 0-6 3 3 0 0 0 0 6zm0 2c-2.3 0-7 1.2-7 " +
    "3.5V19h14v-2.5C15 14.2 10.3 13 8 13zm8 0h-1c1.2.8 2 2 2 3.5V19h6v-2.5c0-2.3-4.7-3.5-7-3.5z",
  alert: "M1 21h22L12 2 1 21zm12-3h-2v-2h2v2zm0-4h-2v-4h2v4z",
};

/** An inline SVG icon (decorative: hidden from assistive technology). */
export function icon(name, className = "icon") {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  svg.setAttribute("class", className);
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", ICONS[name]);
  svg.append(path);
  return svg;
}

/** Text only a screen reader reads. */
export function srOnly(text) {
  return h("span", { class: "visually-hidden", text });
}

/**
 * Re-render `container`'s content with `render()`, keeping keyboard focus: the focused element's
 * `data-focus-key` is looked up again afterwards (else `fallback()` chooses where focus goes).
 */
export function keepFocus(container, render, fallback) {
  const active = document.activeElement;
  const key = active && container.contains(active) ? active.dataset.focusKey : undefined;
  const hadFocus = Boolean(active && container.contains(active));
  render();
  if (!hadFocus) return;
  const again = key ? container.querySelector(`[data-focus-key="${CSS.escape(key)}"]`) : null;
  const target = again || (fallback ? fallback() : null);
  if (target) target.focus();
}

/** "54%", "8.5%", "<0.1%" or "—" (small probabilities keep a significant digit). */
export function percent(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  const pct = value * 100;
  if (pct === 0 || pct >= 10) return `${Math.round(pct)}%`;
  if (pct >= 0.1) return `${pct.toFixed(1)}%`;
  return "<0.1%";
}

/**
 * Copy `text` to the clipboard: true when copied. Where the clipboard API is refused (an
 * insecure origin, no permission), a hidden text area is copied instead; false when that fails
 * too (the text is then to be selected and copied by hand). Keyboard focus stays where it was.
 */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const active = document.activeElement;
    const area = h("textarea", {
      class: "visually-hidden",
      readonly: true,
      tabindex: "-1",
      "aria-hidden": "true",
    });
    area.value = text;
    document.body.append(area);
    area.select();
    try {
      return document.execCommand("copy");
    } catch {
      return false;
    } finally {
      area.remove();
      if (active && active.isConnected) active.focus();
    }
  }
}
