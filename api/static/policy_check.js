// The 政策体检 page (/policy-check): the whole form of the field dictionary, the question worth
// answering first (the API's next_question) with quick answers, and the result cards, checked
// again a moment after every change (POST /api/policy-check). Nothing is kept: the answers
// live in the form.
import { api } from "./api.js";
import { buildForm } from "./policy_check_form.js";
import { renderRegister } from "./policy_check_register.js";
import { renderResults } from "./policy_check_results.js";
import {
  EXACT, dayFromSearch, describeControl, errorText, sections, summarise, toRequest,
} from "./policy_form.js";
import { policiesFromSearch } from "./policy_links.js";
import { $, button, el, elderMode } from "./widgets.js";

const TYPING_MS = 500;   // after a keystroke: wait for the number or code to be typed
const CHOOSING_MS = 150; // after a choice: at once, but one request for a burst of changes

let form = null;
let timer = null;
let sequence = 0;        // only the latest request's answer is shown
let sent = {};           // the facts of the last request: only changes count as answers
const DAY = dayFromSearch(location.search);  // ?date=…: the check as on that day
const ONLY = policiesFromSearch(location.search);  // ?policy=…: those policies alone

function schedule(ms) {
  clearTimeout(timer);
  timer = setTimeout(check, ms);
}

function showError(text) {
  $("pc-error-text").textContent = text;
  $("pc-error").hidden = !text;
}

// The question card: the next question with its quick answers, 不知道 / 跳过, or a button to
// its field in the form when it is typed (a date, a code, a number).
function renderQuestion(result) {
  const card = $("pc-question");
  const answers = $("pc-question-answers");
  const hadFocus = card.contains(document.activeElement);
  const question = result.next_question;
  answers.textContent = "";
  form.markNext(question && question.field);
  if (!question || !form.has(question.field)) {
    const left = (result.possible || []).length;
    $("pc-question-title").textContent = left ? "其余问题已跳过" : "问题都已回答";
    $("pc-question-text").textContent = left
      ? "还有 " + left + " 项政策取决于您选择了“不知道”的问题，可以在下方表单中补充。"
      : "能确定的都已确定，结果见体检结果。";
  } else {
    const control = form.control(question.field);
    const answer = (value) => { form.setAnswer(control.name, value); schedule(0); };
    $("pc-question-title").textContent = "先回答这个问题";
    $("pc-question-text").textContent = question.text || control.question;
    control.quick.forEach((o) => answers.appendChild(button(o.label, "option", () => answer(o.value))));
    if (control.kind === "banded") {
      answers.appendChild(button("填写准确数字", "option", () => {
        form.setAnswer(control.name, EXACT);
        form.focusField(control.name, true);
      }));
    } else if (!control.quick.length) {
      answers.appendChild(button("去填写", "option", () => form.focusField(control.name),
        "去填写：" + control.label));
    }
    answers.appendChild(button("不知道 / 跳过", "option skip", () => {
      form.skip(control.name);
      schedule(0);
    }));
  }
  // The buttons just pressed are gone: the keyboard stays in the card, on its question.
  if (hadFocus) $("pc-question-text").focus();
}

// Signed in: what the register knows, at the top of the question card (the page's grid has
// no place of its own for it), filled from each answer.
function registerBox() {
  let node = $("pc-register");
  if (!node) {
    node = el("div", "pc-register");
    node.id = "pc-register";
    node.hidden = true;
    $("pc-question").prepend(node);
  }
  return node;
}

function render(result) {
  renderRegister(registerBox(), result, () => schedule(0), showError);
  $("pc-summary").textContent = summarise(result);
  $("pc-date").textContent = "按 " + result.date + " 有效的已发布政策核对" +
    (ONLY.length ? "，只核对所选的 " + ONLY.length + " 项政策（打开“政策体检”可查看全部）。" : "。");
  renderQuestion(result);
  renderResults($("pc-cards"), result, {
    has: form.has, skipped: form.skipped(), onAsk: (field) => form.focusField(field),
  });
}

async function check() {
  const { body, errors } = toRequest(form.controls, form.values(), form.skipped());
  if (DAY) body.date = DAY;
  if (ONLY.length) body.policies = ONLY;
  // What this request answers (the planner's priors count only these, not every fact again).
  body.answered = Object.keys(body.facts)
    .filter((name) => JSON.stringify(body.facts[name]) !== JSON.stringify(sent[name]));
  sent = body.facts;
  form.showErrors(errors);
  const mine = ++sequence;
  const results = $("pc-results");
  results.setAttribute("aria-busy", "true");
  try {
    const result = await api("POST", "/api/policy-check", body);
    if (mine !== sequence) return;
    showError("");
    render(result);
  } catch (err) {
    if (mine !== sequence) return;
    showError(errorText(err));
  } finally {
    if (mine === sequence) results.setAttribute("aria-busy", "false");
  }
}

async function start() {
  elderMode();
  $("pc-question-text").tabIndex = -1;
  $("pc-retry").addEventListener("click", () => schedule(0));
  let fields;
  try {
    fields = (await api("GET", "/api/policy-fields")).fields;
  } catch (err) {
    $("pc-question-text").textContent = "";
    $("pc-form").replaceChildren(el("p", "empty", "问题载入失败。"));
    showError(errorText(err));
    return;
  }
  const node = $("pc-form");
  form = buildForm(node, sections(fields), describeControl);
  node.addEventListener("input", (event) => {
    schedule(event.target.type === "text" ? TYPING_MS : CHOOSING_MS);
  });
  node.addEventListener("change", () => schedule(CHOOSING_MS));
  node.addEventListener("submit", (event) => { event.preventDefault(); schedule(0); });
  await check();
}

start();
