// The 差评 work orders: review (属实 / 不属实, never by the handler), the leader's overturn of a
// 不属实 review, and the rectification steps with their 1、5、15 working-day timers.
import { $, el, mark } from "./widgets.js";
import { rates } from "./dashboard_rates.js";
import { call, deadline, enc, latestOnly, say, shanghai, state } from "./dashboard_shared.js";

const CASE_STATUS = { open: "待联系", contacted: "已联系", fixed: "已整改", followed_up: "已回访", superseded: "已被重新评价取代" };
const STAGES = [
  ["contacted", "联系用户", "记录联系用户"],
  ["fixed", "整改完成", "记录整改完成"],
  ["followed_up", "回访", "记录回访"],
];
const NEXT_STAGE = { open: "contacted", contacted: "fixed", fixed: "followed_up" };
// --- 4. the 差评 work orders --------------------------------------------------------------------

export const badQueue = (() => {
  const fresh = latestOnly();
  let focusAfter = null;   // the case whose heading gets the focus after a reload

  function timerLine(c, stage, name) {
    const t = (c.timers || {})[stage] || {};
    const li = el("li");
    li.appendChild(el("span", "timer-name", name + "："));
    if (t.due) li.appendChild(document.createTextNode("时限 " + deadline(t.due) + "；"));
    if (t.done_at) {
      li.appendChild(document.createTextNode("已于 " + shanghai(t.done_at) + " 完成"));
      if (t.overdue) li.appendChild(mark("超期完成", "bad"));
    } else if (t.overdue) {
      li.appendChild(mark("已超期，尚未完成", "bad"));
    } else if (c.timers && c.timers.stopped) {
      li.appendChild(document.createTextNode("无需办理"));
    } else {
      li.appendChild(document.createTextNode(t.due ? "尚未完成，未超期" : "尚未回访"));
    }
    return li;
  }

  function reviewForm(c) {
    const form = el("form", "case-form");
    form.setAttribute("aria-label", "复核差评 " + c.id);
    const group = el("fieldset", "field verdicts");
    group.appendChild(el("legend", "", "复核结论"));
    ["属实", "不属实"].forEach((v, i) => {
      const id = "verdict-" + c.id + "-" + i;
      const wrap = el("span", "radio");
      const input = el("input");
      input.type = "radio";
      input.name = "verdict-" + c.id;
      input.id = id;
      input.value = v;
      const label = el("label", "", v);
      label.htmlFor = id;
      wrap.append(input, label);
      group.appendChild(wrap);
    });
    form.appendChild(group);
    const noteId = "review-note-" + c.id;
    const note = noteField(form, noteId, "复核说明（认定不属实须写明理由）");
    const { error, submit } = errorAndSubmit(form, "primary", "提交复核",
      "提交复核：差评 " + c.id);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const chosen = form.querySelector("input[type=radio]:checked");
      if (!chosen) { error.textContent = "请选择“属实”或“不属实”。"; return; }
      if (chosen.value === "不属实" && !note.value.trim()) {
        error.textContent = "认定不属实，请写明理由。";
        note.focus();
        return;
      }
      await act(c, "/review", { verdict: chosen.value, note: note.value.trim() }, error, submit,
        "差评 " + c.id + " 已复核为“" + chosen.value + "”");
    });
    return form;
  }

  function rectificationForm(c) {
    const stage = NEXT_STAGE[c.status];
    const [, name, action] = STAGES.find(([s]) => s === stage);
    const form = el("form", "case-form");
    form.setAttribute("aria-label", action + "：差评 " + c.id);
    const noteId = "rect-note-" + c.id;
    const note = noteField(form, noteId, name + "情况");
    let complexity = null;
    if (stage !== "followed_up") {
      const cid = "complexity-" + c.id;
      const cfield = el("div", "field");
      const clabel = el("label", "", "问题复杂度");
      clabel.htmlFor = cid;
      complexity = el("select");
      complexity.id = cid;
      [["simple", "简单（5个工作日内整改）"], ["complex", "复杂（15个工作日内整改）"]].forEach(([v, t]) => {
        const o = el("option", "", t);
        o.value = v;
        complexity.appendChild(o);
      });
      complexity.value = c.complexity || "simple";
      cfield.append(clabel, complexity);
      form.appendChild(cfield);
    }
    const { error, submit } = errorAndSubmit(form, "primary", action,
      action + "：差评 " + c.id);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!note.value.trim()) { error.textContent = "请写明" + name + "的情况。"; note.focus(); return; }
      const body = { stage, note: note.value.trim() };
      if (complexity) body.complexity = complexity.value;
      await act(c, "/rectification", body, error, submit, "差评 " + c.id + "：已" + action);
    });
    return form;
  }

  // A labelled note (textarea) appended to a case form.
  function noteField(form, noteId, labelText) {
    const field = el("div", "field");
    const label = el("label", "", labelText);
    label.htmlFor = noteId;
    const note = el("textarea");
    note.id = noteId;
    note.rows = 2;
    note.maxLength = 2000;
    field.append(label, note);
    form.appendChild(field);
    return note;
  }

  // The form's error line (role=alert) and its submit button, named for the case.
  function errorAndSubmit(form, buttonClass, buttonText, ariaLabel) {
    const error = el("p", "field-error");
    error.setAttribute("role", "alert");
    form.appendChild(error);
    const submit = el("button", buttonClass, buttonText);
    submit.type = "submit";
    submit.setAttribute("aria-label", ariaLabel);
    form.appendChild(submit);
    return { error, submit };
  }

  function overturnForm(c) {
    const form = el("form", "case-form");
    form.setAttribute("aria-label", "推翻不属实认定：差评 " + c.id);
    const noteId = "overturn-note-" + c.id;
    const note = noteField(form, noteId, "推翻理由");
    const { error, submit } = errorAndSubmit(form, "danger", "推翻不属实认定",
      "推翻不属实认定：差评 " + c.id);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!note.value.trim()) { error.textContent = "请写明推翻的理由。"; note.focus(); return; }
      await act(c, "/overturn", { note: note.value.trim() }, error, submit,
        "差评 " + c.id + " 的不属实认定已推翻，重新计入满意率");
    });
    return form;
  }

  async function act(c, path, body, error, submit, done) {
    error.textContent = "";
    submit.disabled = true;
    try {
      await call("POST", "/api/reports/bad-ratings/" + enc(c.id) + path, body);
    } catch (err) {
      submit.disabled = false;
      error.textContent = err.message;
      return;
    }
    focusAfter = c.id;
    await load();
    say(done);
    rates.load().catch(() => {});  // a review changes 满意率 and 不属实率
  }

  function render(c) {
    const item = el("li", "case" + (c.timers && c.timers.late_now ? " late" : ""));
    item.dataset.caseId = c.id;
    const title = "差评 " + c.id + " · " + c.rating + " · " + (c.department || "小宝（智能客服）") +
      " · " + (CASE_STATUS[c.status] || c.status) + (c.timers && c.timers.late_now ? "（已超期）" : "");
    const h = el("h3", "", title);
    h.tabIndex = -1;
    h.id = "case-" + c.id;
    item.appendChild(h);
    item.appendChild(el("p", "case-reason", "原因：" + (c.reason || "（未填写）")));
    const meta = [shanghai(c.opened_at) + " 评价"];
    if (c.ticket_id) meta.push("工单 " + c.ticket_id);
    if (c.handler) meta.push("经办 " + c.handler);
    item.appendChild(el("p", "item-meta", meta.join(" · ")));
    const review = el("p", "case-review");
    if (c.verdict) {
      review.appendChild(document.createTextNode("复核：" + c.verdict + "（" + c.reviewed_by + "，" +
        shanghai(c.reviewed_at) + "）" + (c.review_note ? "：" + c.review_note : "")));
      if (c.overturned) {
        review.appendChild(el("span", "", "；已被 " + c.overturned_by + " 推翻：" + c.overturn_note));
      }
    } else {
      review.appendChild(mark(c.status === "superseded" ? "已被取代，无需复核" : "未复核", c.status === "superseded" ? "" : "warn"));
    }
    item.appendChild(review);
    const timers = el("ul", "timers");
    timers.setAttribute("aria-label", "整改时限：差评 " + c.id);
    timers.appendChild(timerLine(c, "contacted", "1个工作日内联系用户"));
    timers.appendChild(timerLine(c, "fixed", (c.complexity === "complex" ? "15" : "5") + "个工作日内整改完成（" +
      (c.complexity === "complex" ? "复杂" : "简单") + "）"));
    timers.appendChild(timerLine(c, "followed_up", "回访"));
    item.appendChild(timers);
    const actions = el("div", "case-actions");
    if (!c.verdict && c.status !== "superseded" && c.handler !== state.me.account.username) actions.appendChild(reviewForm(c));
    if (c.unfounded && !c.overturned && state.me.can.overturn_unfounded) {
      actions.appendChild(overturnForm(c));
    }
    if (!c.closed && !c.unfounded && NEXT_STAGE[c.status]) actions.appendChild(rectificationForm(c));
    if (actions.childElementCount) item.appendChild(actions);
    return item;
  }

  async function load() {
    const current = fresh();
    const status = $("bad-status").value;
    const data = await call("GET", "/api/reports/bad-ratings?status=" + enc(status));
    if (!current()) return;
    const cases = data.cases || [];
    $("bad-list").replaceChildren(...cases.map(render));
    $("bad-empty").hidden = cases.length > 0;
    $("bad-count").textContent = String(data.count === undefined ? cases.length : data.count);
    if (focusAfter !== null) {
      const heading = $("case-" + focusAfter);
      (heading || $("h-bad")).focus();
      focusAfter = null;
    }
  }

  function wire() {
    $("bad-status").addEventListener("change", () => load().then(
      () => say("差评工单：" + $("bad-status").selectedOptions[0].textContent + " " + $("bad-count").textContent + " 条"),
      (err) => say(err.message, true)));
    $("bad-refresh").addEventListener("click", () => load().then(() => say("已刷新差评工单"),
      (err) => say(err.message, true)));
  }

  return { load, wire };
})();

