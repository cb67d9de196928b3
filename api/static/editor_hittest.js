// The hit test: what the bot would do with a question — the decision, its probability, the
// reply and buttons, the candidates with their scores and the features behind them.
import { $, el, richText } from "./widgets.js";
import { DECISIONS, FEATURES, call, cell, editLink, say, score } from "./editor_shared.js";

export const hitTest = (() => {
  async function run(query) {
    try {
      const data = await call("POST", "/api/kb/hit-test", { query });
      const decision = $("hit-decision");
      decision.textContent = (DECISIONS[data.decision] || data.decision) + "（" + data.decision + "）";
      decision.className = "decision " + data.decision;
      const p = Number(data.probability || 0);
      $("hit-probability").textContent = p.toFixed(3) + "（" + Math.round(p * 100) + "%）";
      const q = Number(data.plausibility || 0);
      $("hit-plausibility").textContent = q.toFixed(3) + "（" + Math.round(q * 100) + "%）";
      const entryCell = $("hit-entry");
      entryCell.replaceChildren();
      if (data.entry_id) entryCell.appendChild(editLink(data.entry_id));
      else entryCell.textContent = "—（不直接回答）";
      const reply = data.reply || {};
      $("hit-reply").replaceChildren(richText(reply.text || ""));
      $("hit-buttons").replaceChildren(...(reply.buttons || []).map((b) => el("li", "", b.title || b.payload)));
      $("hit-buttons").hidden = !(reply.buttons || []).length;
      const rows = $("hit-candidates");
      rows.replaceChildren();
      (data.candidates || []).forEach((c, i) => {
        const tr = el("tr");
        cell(tr, String(i + 1), "num");
        const idCell = el("td", "nowrap");
        idCell.appendChild(editLink(c.id));
        tr.appendChild(idCell);
        cell(tr, c.question || "");
        cell(tr, c.category || "—");
        cell(tr, c.department || "—");
        cell(tr, score(c.score), "num");
        cell(tr, score(c.dense), "num");
        cell(tr, score(c.sparse), "num");
        rows.appendChild(tr);
      });
      if (!(data.candidates || []).length) {
        const tr = el("tr");
        const td = cell(tr, "没有候选条目");
        td.colSpan = 8;
        rows.appendChild(tr);
      }
      const feats = $("hit-features");
      feats.replaceChildren();
      Object.entries(data.features || {}).forEach(([k, v]) => {
        const tr = el("tr");
        const th = el("th", "", (FEATURES[k] || k) + "（" + k + "）");
        th.scope = "row";
        tr.appendChild(th);
        cell(tr, score(v), "num");
        feats.appendChild(tr);
      });
      $("hit-result").hidden = false;
      say("测试完成：" + (DECISIONS[data.decision] || data.decision) +
        (data.entry_id ? "，条目 " + data.entry_id : ""));
    } catch (err) { say(err.message, true); }
  }

  function wire() {
    $("hit-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const query = $("hit-query").value.trim();
      if (!query) { say("请输入测试问题", true); $("hit-query").focus(); return; }
      run(query);
    });
  }

  return { wire };
})();

