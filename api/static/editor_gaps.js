// The knowledge gaps: questions the bot did not answer well, grouped by meaning, with the
// nearest entries; an editor starts a new entry from a group, a supervisor only reads.
import { $, el, button, mark, today } from "./widgets.js";
import { formatDateTime } from "./format.js";
import { REASONS, call, editLink, say, state } from "./editor_shared.js";
import { form } from "./editor_form.js";

export const gaps = (() => {
  let loaded = false;

  function render(c, i) {
    const item = el("li");
    item.appendChild(el("h3", "", "第 " + (i + 1) + " 组 · " + c.size + " 个问题：" + (c.examples[0] || "")));
    item.appendChild(el("p", "item-meta", "首次 " + formatDateTime(c.first_seen) + " · 最近 " + formatDateTime(c.last_seen)));
    const reasons = el("div", "reasons");
    Object.entries(c.reasons || {}).forEach(([k, n]) => { if (n) reasons.appendChild(mark((REASONS[k] || k) + " " + n, "warn")); });
    item.appendChild(reasons);
    item.appendChild(el("p", "subtle", "用户的问法："));
    const examples = el("ul", "examples");
    (c.examples || []).forEach((t) => examples.appendChild(el("li", "", t)));
    item.appendChild(examples);
    if ((c.nearest || []).length) {
      item.appendChild(el("p", "subtle", "最接近的已有条目："));
      const near = el("ul", "examples");
      c.nearest.forEach((n) => {
        const li = el("li");
        li.appendChild(state.readOnly ? el("span", "", n.question) : editLink(n.id, n.question));
        li.appendChild(document.createTextNode("（" + n.id + "，相关度 " + Number(n.score || 0).toFixed(2) + "）"));
        near.appendChild(li);
      });
      item.appendChild(near);
    } else {
      item.appendChild(el("p", "subtle", "没有相近的已有条目。"));
    }
    if (state.readOnly) return item;  // supervisors read; editors act
    const actions = el("div", "draft-actions");
    actions.appendChild(button("新建条目", "primary", () => {
      form.startNew(c.draft || { question: c.examples[0] || "", similar_questions: (c.examples || []).slice(1) });
    }, "按这一组新建条目：" + (c.examples[0] || "")));
    item.appendChild(actions);
    return item;
  }

  async function load() {
    const params = new URLSearchParams();
    if ($("gaps-from").value) params.set("from", $("gaps-from").value);
    if ($("gaps-to").value) params.set("to", $("gaps-to").value);
    $("gaps-summary").textContent = "正在分析…";
    try {
      const data = await call("GET", "/api/kb/gaps?" + params.toString());
      const clusters = data.clusters || [];
      $("gaps-list").replaceChildren(...clusters.map(render));
      $("gaps-empty").hidden = clusters.length > 0;
      $("gaps-summary").textContent = (data.from || "") + " 至 " + (data.to || "") + "：" +
        (data.questions || 0) + " 个没答好的问题，归为 " + clusters.length + " 组" +
        (data.note ? "。" + data.note : "");
      loaded = true;
    } catch (err) {
      $("gaps-summary").textContent = "";
      say(err.message, true);
    }
  }

  function open() {
    if (!$("gaps-from").value) $("gaps-from").value = today(29);  // the last 30 days, as the API's default
    if (!$("gaps-to").value) $("gaps-to").value = today();
    if (!loaded) load();
  }

  function wire() {
    $("gaps-form").addEventListener("submit", (event) => {
      event.preventDefault();
      load().then(() => say($("gaps-summary").textContent));
    });
  }

  return { open, wire };
})();

