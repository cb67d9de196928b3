// 企业档案 (一企一档) for staff: one enterprise's facts with their sources (a read needs a
// reason and is logged by the server), imports with a dry run first, exports. What the
// account may do comes from GET /api/auth/me → can (read_register, manage_register).
import { pageApi } from "./api.js";
import { $, el } from "./widgets.js";

const call = pageApi("/register");
const main = $("main");
const SOURCES = JSON.parse(main.dataset.sources || "[]");
const LABELS = JSON.parse(main.dataset.labels || "{}");

function say(text, isError = false) {
  const box = $("status");
  box.textContent = text;
  box.classList.toggle("error", isError);
}

function shown(value) {
  if (value === null || value === undefined) return "";
  if (value === true) return "是";
  if (value === false) return "否";
  if (typeof value === "object") {
    const low = value.gte ?? value.gt;
    const high = value.lte ?? value.lt;
    return (low ?? "") + "–" + (high ?? "");
  }
  return String(value);
}

function showProfile(profile) {
  $("profile-name").textContent = (profile.name || "（未登记名称）") + " · " + profile.uscc;
  $("profile-rows").replaceChildren(...profile.fields.map((f) => {
    const row = el("tr");
    const declared = f.declared ? shown(f.declared.value) + "（" + f.declared.source + "，" +
      f.declared.as_of + "）" : "";
    [LABELS[f.field] || f.field, shown(f.value), f.source, f.as_of,
      f.authoritative && f.fresh ? "是" : (f.authoritative ? "否（已过时效）" : "否（非权威来源）"),
      declared].forEach((text) => row.appendChild(el("td", "", text)));
    return row;
  }));
  $("profile").hidden = false;
}

async function read(event) {
  event.preventDefault();
  const uscc = $("read-uscc").value.trim();
  const reason = $("read-reason").value.trim();
  try {
    const profile = await call("GET", "/api/register/enterprises/" + encodeURIComponent(uscc) +
      "?reason=" + encodeURIComponent(reason));
    showProfile(profile);
    say("已查阅（本次查阅已记录）");
  } catch (err) {
    $("profile").hidden = true;
    say(err.message, true);
  }
}

async function upload(dryRun) {
  const file = $("import-file").files[0];
  if (!file) { say("请选择文件", true); return; }
  const form = new FormData();
  form.append("file", file);
  form.append("source", $("import-source").value);
  if ($("import-as-of").value) form.append("as_of", $("import-as-of").value);
  form.append("dry_run", dryRun ? "true" : "false");
  const box = $("import-result");
  try {
    const report = await call("POST", "/api/register/import", form);
    const line = (dryRun ? "试导入：" : "已导入：") + report.rows + " 行，新增企业 " +
      report.created.length + " 家，新增信息 " + report.facts_added + " 项，未变 " +
      report.facts_unchanged + " 项" + (report.batch ? "；已重新匹配政策，新待办 " +
        report.batch.work_items + " 条，新通知 " + report.batch.notifications + " 条" : "");
    box.replaceChildren(el("p", "", line));
    say(dryRun ? "试导入完成，未写入任何数据" : "导入完成");
  } catch (err) {
    const rows = ((err.body || {}).error || {}).errors || [];
    const list = el("ul", "errors");
    rows.forEach((r) => list.appendChild(el("li", "",
      (r.file || "") + " 第" + r.row + "行 " + (r.field || "") + "：" + r.reason)));
    box.replaceChildren(el("p", "form-error", err.message), list);
    say(err.message, true);
  }
}

async function start() {
  let me;
  try {
    me = await call("GET", "/api/auth/me");
  } catch (err) {
    if (err.status !== 401) say(err.message, true);
    return;
  }
  $("who-name").textContent = me.account.display_name || me.account.username;
  $("logout").addEventListener("click", async () => {
    try { await call("POST", "/api/auth/logout"); } catch { /* ends anyway */ }
    location.assign("/login?next=/register");
  });
  if (!me.can.read_register && !me.can.manage_register) {
    $("denied-text").textContent = "您的账号没有企业档案权限：企业档案只对登记管理员和督导开放。";
    $("denied").hidden = false;
    return;
  }
  $("sec-read").hidden = !me.can.read_register;
  $("sec-import").hidden = $("sec-export").hidden = !me.can.manage_register;
  $("import-source").replaceChildren(...SOURCES.map((s) => {
    const option = el("option", "", s);
    option.value = s;
    return option;
  }));
  $("read-form").addEventListener("submit", read);
  $("import-form").addEventListener("submit", (event) => { event.preventDefault(); upload(true); });
  $("import-go").addEventListener("click", () => upload(false));
}

start();
