// What every page draws the same way: elements, the answer card's text with its links,
// buttons, marks, toasts, the status line, the "not for you" notice and 长辈模式. Every text
// from the server goes in with textContent: what a user or helper typed is shown as text,
// never parsed as HTML.
import { centreDay, splitLinks } from "./format.js";

export const $ = (id) => document.getElementById(id);

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

// Text with http(s) links made clickable (a new tab, no opener); everything else stays plain
// text. The answer card (the bot's, a helper's one-click answer, the editor's preview) is
// shown this way.
export function richText(text) {
  const frag = document.createDocumentFragment();
  splitLinks(text).forEach((part) => {
    if (part.link) {
      const a = el("a", "", part.text);
      a.href = part.text;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      frag.appendChild(a);
    } else {
      frag.appendChild(document.createTextNode(part.text));
    }
  });
  return frag;
}

export function button(text, className, onClick, label) {
  const b = el("button", className, text);
  b.type = "button";
  if (label) b.setAttribute("aria-label", label);
  b.addEventListener("click", onClick);
  return b;
}

export function mark(text, kind) { return el("span", "mark" + (kind ? " " + kind : ""), text); }

// A message that shows for a few seconds in the page's #toasts (the console).
export function toast(text, isError) {
  const node = el("div", "toast" + (isError ? " error" : ""), text);
  ($("toasts") || document.body).appendChild(node);
  setTimeout(() => node.remove(), 3500);
}

// One status line (role=status / aria-live) per page, announced even when a message repeats:
// the text goes in as a fresh node after a tick.
export function statusLine(id) {
  let timer = null;
  function say(text, isError) {
    const line = document.getElementById(id);
    line.textContent = "";
    line.classList.toggle("error", !!isError);
    clearTimeout(timer);
    timer = setTimeout(() => { line.textContent = text; }, 30);
  }
  // Silence the line (and a message still on its way): it belonged to another view.
  say.clear = () => {
    clearTimeout(timer);
    document.getElementById(id).textContent = "";
  };
  return say;
}

// A staff page the account may not use: #loading gives way to #denied with the reason.
export function showDenied(text) {
  $("loading").hidden = true;
  $("denied-text").textContent = text;
  $("denied").hidden = false;
}

// The centre's time zone, which the page carries (<body data-timezone>): its calendar days are
// the API's, whatever the browser's zone.
export function timeZone() {
  return document.body.dataset.timezone || "Asia/Shanghai";
}

// The centre's calendar day ``daysBefore`` days before today, as YYYY-MM-DD.
export function today(daysBefore = 0) {
  return centreDay(daysBefore, timeZone());
}

// --- 长辈模式 -------------------------------------------------------------------------------------
// Elders' mode (after MIIT's 2021 《互联网网站适老化通用设计规范》): text of 24 px and more,
// targets of 60 × 60 px, stronger contrast, nothing that pops up. elder.js, a classic script in
// the portal's <head>, puts a remembered choice on before the first paint; this wires the
// toggle and keeps the choice.

export const ELDER_KEY = "xiaobao.elderMode";  // in localStorage, "on" or absent (elder.js too)

function remember(on) {
  try {
    if (on) localStorage.setItem(ELDER_KEY, "on"); else localStorage.removeItem(ELDER_KEY);
  } catch { /* storage refused (private window): on for this page only */ }
}

export function elderMode(toggleId = "elder-toggle") {
  const root = document.documentElement;
  const toggle = document.getElementById(toggleId);
  const apply = (on) => {
    root.classList.toggle("elder", on);
    toggle.setAttribute("aria-pressed", on ? "true" : "false");
  };
  apply(root.classList.contains("elder"));
  toggle.addEventListener("click", () => {
    const on = !root.classList.contains("elder");
    remember(on);
    apply(on);
  });
  // No new windows in elders' mode: a link in the conversation opens in this tab (the
  // conversation is kept on the server and shows again on return).
  document.addEventListener("click", (event) => {
    if (!root.classList.contains("elder") || event.defaultPrevented) return;
    const link = event.target.closest && event.target.closest("a[target=_blank]");
    if (!link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    location.assign(link.href);
  });
}
