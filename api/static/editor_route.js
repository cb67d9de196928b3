// The editor's views, chosen by the URL hash (#list, #edit/<id>, #history/<id>, …): one shows
// at a time, the focus goes to its heading, and leaving the edit form with unsaved changes
// asks first. The entry module registers what opens each view (setViews).
import { parseViewHash } from "./format.js";
import { $ } from "./widgets.js";
import { enc, say, state } from "./editor_shared.js";

export const VIEWS = ["list", "edit", "history", "import", "export", "hittest", "drafts", "gaps",
  "policies"];

export const nav = {
  route: null,         // {view, arg} on screen
  pendingHash: null,   // where the editor wanted to go when the form had unsaved changes
};

let loaders = {};            // view -> open(arg)
let isDirty = () => false;   // the edit form has unsaved changes

export function setViews(open, formIsDirty) {
  loaders = open;
  isDirty = formIsDirty;
}

export function parseHash() {
  if (state.readOnly) return { view: "gaps", arg: "" };  // a supervisor reads the gaps only
  return parseViewHash(location.hash, VIEWS);
}

export function hashOf(r) { return "#" + r.view + (r.arg ? "/" + enc(r.arg) : ""); }

export function onHashChange() {
  const next = parseHash();
  const leavingEditor = nav.route && nav.route.view === "edit" &&
    !(next.view === "edit" && (next.arg === nav.route.arg || next.arg === ""));
  if (leavingEditor && isDirty()) {
    nav.pendingHash = location.hash || "#list";
    history.replaceState(null, "", hashOf(nav.route));
    showUnsavedWarning();
    return;
  }
  show(next, true);
}

export function show(next, moveFocus) {
  nav.route = next;
  say.clear();  // a message belongs to the view it was said in
  VIEWS.forEach((v) => { $("view-" + v).hidden = v !== next.view; });
  document.querySelectorAll("#editor-nav a").forEach((a) => {
    if (a.dataset.view === next.view) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  });
  hideUnsavedWarning();
  loaders[next.view](next.arg);
  if (moveFocus) $("h-" + next.view).focus();
}

export function go(hash) {
  if (location.hash === hash) show(parseHash(), true);
  else location.hash = hash;
}

function showUnsavedWarning() {
  $("unsaved-warning").hidden = false;
  $("unsaved-stay").focus();
}

export function hideUnsavedWarning() { $("unsaved-warning").hidden = true; }

