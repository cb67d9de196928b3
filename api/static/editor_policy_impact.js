// Impact before publishing: what the open policy item, as it stands, would do to the
// enterprise register today — newly eligible, no longer eligible, newly possible — counted,
// with a few masked samples and the facts that decided them (GET /api/policies/{id}/impact).
import { $, el } from "./widgets.js";
import { call, enc } from "./editor_shared.js";

const GROUPS = [["newly_eligible", "新增符合"], ["no_longer_eligible", "不再符合"],
  ["newly_possible", "新增可能符合"]];

function policyId() {
  const match = /^#policies\/(.+)$/.exec(location.hash);
  return match && match[1] !== "new" ? decodeURIComponent(match[1]) : null;
}

function factsText(facts) {
  return Object.entries(facts || {}).map(([k, v]) =>
    k + "=" + (typeof v === "object" && v !== null ? JSON.stringify(v) : String(v))).join("，");
}

export function renderImpact(found) {
  const box = $("pol-impact");
  const compared = found.compared_with === "published" ? "与当前已发布版本相比" : "新事项（此前无人符合）";
  const parts = [el("p", "hint", "按 " + found.day + " 的企业档案（" + found.enterprises +
    " 家企业）计算，" + compared + "。样例企业代码已部分隐去。")];
  GROUPS.forEach(([key, title]) => {
    const group = found[key];
    const section = el("div", "policy-group");
    section.appendChild(el("h4", "", title + "：" + group.count + " 家"));
    const list = el("ul", "check-list");
    group.samples.forEach((s) => {
      const why = (s.failed.length ? "不满足：" + s.failed.join("、") + "；" : "") +
        (s.unknown.length ? "未知：" + s.unknown.join("、") + "；" : "");
      list.appendChild(el("li", "", s.enterprise + " —— " + factsText(s.facts) +
        (why ? "（" + why.replace(/；$/, "") + "）" : "")));
    });
    section.appendChild(list);
    parts.push(section);
  });
  box.replaceChildren(...parts);
}

export const impact = {
  wire() {
    $("pol-impact-run").addEventListener("click", async () => {
      const id = policyId();
      const box = $("pol-impact");
      if (!id) { box.replaceChildren(el("p", "hint", "请先保存事项")); return; }
      box.replaceChildren(el("p", "hint", "正在计算…"));
      try {
        renderImpact(await call("GET", "/api/policies/" + enc(id) + "/impact"));
      } catch (err) {
        box.replaceChildren(el("p", "form-error", err.message));
      }
    });
  },
};
