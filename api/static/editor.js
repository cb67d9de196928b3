// The knowledge editors' workbench: entry list, edit form with the bot's live preview, history
// and diff, import (dry run first), export, hit test, helpers' proposals and knowledge gaps,
// each view a module of its own (editor_*.js), chosen by the URL hash (editor_route.js), and the
// 政策 view for policy editors (editor_policies.js and its editor_policy_*.js). This
// module checks what the account may do and starts the views. Everything from the server goes
// in with textContent (widgets.el / widgets.richText), never as markup.
import { api, whoAmI } from "./api.js";
import { $, showDenied } from "./widgets.js";
import { STATUS, call, fillDatalist, fillSelect, say, state } from "./editor_shared.js";
import { onHashChange, parseHash, setViews, show } from "./editor_route.js";
import { drafts } from "./editor_drafts.js";
import { form } from "./editor_form.js";
import { gaps } from "./editor_gaps.js";
import { hist } from "./editor_history.js";
import { exporter, importer } from "./editor_import.js";
import { hitTest } from "./editor_hittest.js";
import { list } from "./editor_list.js";
import { policies } from "./editor_policies.js";
import { impact } from "./editor_policy_impact.js";

setViews({
  list: () => list.load(), edit: (arg) => form.open(arg), history: (arg) => hist.open(arg),
  import: () => {}, export: () => exporter.update(), hittest: () => {},
  drafts: () => drafts.load(), gaps: () => gaps.open(), policies: (arg) => policies.open(arg),
}, () => form.isDirty());

async function start() {
  let me, can;
  try {
    ({ account: me, can } = await whoAmI());
    state.me = me;
  } catch (err) {
    if (err.status === 401) { location.assign("/login?next=/editor"); return; }
    showDenied(err.message);
    return;
  }
  $("who-name").textContent = me.display_name || me.username;
  $("logout").addEventListener("click", async () => {
    try { await api("POST", "/api/auth/logout"); } catch { /* the session ends anyway */ }
    location.assign("/login?next=/editor");
  });
  $("dashboard-link").hidden = !can.read_reports;
  $("nav-policies").hidden = !can.edit_policies;
  state.readOnly = !can.edit_kb && can.read_kb_gaps;
  if (state.readOnly) {
    // Supervisors read the knowledge gaps (the same API the dashboard uses); editing is not theirs.
    document.querySelectorAll("#editor-nav a").forEach((a) => {
      if (a.dataset.view !== "gaps") a.parentElement.hidden = true;
    });
    $("readonly-note").hidden = false;
    gaps.wire();
    $("loading").hidden = true;
    $("editor-nav").hidden = false;
    show(parseHash(), false);
    return;
  }
  if (!can.edit_kb) {
    showDenied("您的账号（" + me.username + "）没有知识库编辑权限。知识库编辑工作台只对“知识库编辑”角色开放，" +
      "如需使用，请联系系统管理员开通。帮办人员请使用帮办工作台（/console）。");
    return;
  }
  try {
    state.meta = { ...state.meta, ...(await call("GET", "/api/kb/meta")) };
  } catch (err) {
    if (err.status === 403) { showDenied(err.message); return; }
    say(err.message, true);
  }
  const { meta } = state;
  fillSelect($("f-category"), meta.categories || [], null, true);
  fillSelect($("f-department"), meta.departments || [], null, true);
  fillSelect($("f-status"), meta.statuses || [], STATUS, true);
  fillSelect($("export-status"), meta.statuses || [], STATUS, true);
  fillDatalist($("categories"), meta.categories || []);
  fillDatalist($("departments"), meta.departments || []);
  list.wire();
  form.wire();
  hist.wire();
  importer.wire();
  impact.wire();
  exporter.wire();
  hitTest.wire();
  drafts.wire();
  gaps.wire();
  $("loading").hidden = true;
  $("editor-nav").hidden = false;
  window.addEventListener("hashchange", onHashChange);
  show(parseHash(), false);
  drafts.refreshCount();
}

start();
