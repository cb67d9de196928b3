// 留言咨询 on the portal: the form (in the page, never a pop-up, the notice on personal
// information before the phone field), the 留言 and their answers, and the 12345 call-back an
// answered 留言 with a phone number may ask for (with an SMS code where the centre requires one).
import { api } from "./api.js";
import { chat } from "./chat.js";
import { callbackLine } from "./format.js";
import { el } from "./widgets.js";

const $leaveRow = document.getElementById("leave-row");
const leaveOpen = document.getElementById("leave-open");
const leaveForm = document.getElementById("form-leave");
const leaveError = document.getElementById("leave-error");
const leaveWhy = $leaveRow.querySelector("span");
const LEAVE_WAITING = leaveWhy.textContent;
const LEAVE_NO_BOT = "小宝暂时只能回答知识库中的问题。您可以留言（留下电话，答复后可预约12345回电），下次打开本页即可看到答复。";

// 留言咨询: a form in the page (never a pop-up), the notice on personal information before
// the phone field. An error keeps the form open with what was typed.
function showLeaveError(text) {
  leaveError.textContent = text;
  leaveError.hidden = !text;
}

function showLeaveForm(open) {
  if (leaveForm.hidden === !open) return;
  leaveForm.hidden = !open;
  leaveOpen.setAttribute("aria-expanded", open ? "true" : "false");
  showLeaveError("");
}

leaveOpen.addEventListener("click", async () => {
  if (!leaveForm.hidden) { document.getElementById("leave-text").focus(); return; }
  try {
    const data = await api("GET", "/api/chat/left-messages");
    document.getElementById("leave-notice").textContent = data.phone_notice;
  } catch { /* the form still works without the notice text */ }
  showLeaveForm(true);
  document.getElementById("leave-text").focus();
});
leaveForm.querySelector("button[value=cancel]").addEventListener("click", () => {
  showLeaveForm(false);
  leaveOpen.focus();
});
leaveForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = document.getElementById("leave-text");
  if (!text.value.trim()) {
    showLeaveError("请填写留言内容。");
    text.focus();
    return;
  }
  const submit = leaveForm.querySelector("button[type=submit]");
  submit.disabled = true;
  try {
    await api("POST", "/api/chat/leave-message", {
      text: text.value,
      phone: document.getElementById("leave-phone").value.trim(),
    });
    chat.addMessage({ role: "notice", text: "留言已提交，工作人员答复后，您再次打开本页即可看到。" });
    text.value = "";
    chat.setState("bot", null, true);  // closed by leaving the message: no "service ended"
    chat.focusInput();
  } catch (err) {
    showLeaveError(err.message);
  } finally {
    submit.disabled = false;
  }
});

// 留言: an answer shows as a message from the centre; a user who left a phone number may
// ask for a 12345 call-back from it.
const pendingNotes = {};  // 留言 id -> its "waiting for an answer" line, replaced by the answer

function addLeftMessage(m) {
  if (m.status !== "answered") {
    pendingNotes[m.id] = chat.addMessage({ role: "notice", text: "您的留言「" + m.text + "」已提交，工作人员答复后会显示在这里。" });
    return;
  }
  if (pendingNotes[m.id]) { pendingNotes[m.id].remove(); delete pendingNotes[m.id]; }
  const item = chat.addMessage({ role: "helper", author: "留言答复", at: m.answered_at,
    text: "您的留言「" + m.text + "」的答复：\n" + m.answer });
  if (!m.phone) return;
  const bubble = item.querySelector(".bubble");
  const row = el("div", "buttons");
  if (m.callback) {
    row.appendChild(el("span", "rating-label", callbackLine(m.callback)));
  } else {
    const ask = el("button", "option", "请12345回电（" + m.phone + "）");
    ask.type = "button";
    const base = "/api/chat/left-messages/" + encodeURIComponent(m.id);
    const book = async () => {
      const data = await api("POST", base + "/callback");
      row.replaceChildren(el("span", "rating-label", callbackLine({ call_status: "requested" })));
      chat.addMessage({ role: "notice", text: data.notice });
      chat.refreshQueue();
    };
    // Where the centre requires it, the number proves itself with an SMS code first.
    const askCode = async () => {
      const sent = await api("POST", base + "/phone-code", {});
      const form = el("form", "code-form");
      const label = el("label", "", "短信验证码（已发送到 " + sent.phone + "）");
      const input = el("input");
      Object.assign(input, { id: "code-" + m.id, inputMode: "numeric", autocomplete: "one-time-code",
        maxLength: 6, required: true });
      label.htmlFor = input.id;
      const ok = el("button", "option", "确认并预约回电");
      ok.type = "submit";
      form.append(label, input, ok);
      row.replaceChildren(form);
      chat.focusInput();
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        ok.disabled = true;
        try {
          await api("POST", base + "/phone-code/verify", { code: input.value });
          await book();
        } catch (err) {
          ok.disabled = false;
          chat.addMessage({ role: "error", text: err.message });
        }
      });
    };
    ask.addEventListener("click", async () => {
      ask.disabled = true;
      try {
        await book();
      } catch (err) {
        let failure = err;
        if (err.code === "phone_not_verified") {
          try { await askCode(); return; } catch (e) { failure = e; }
        }
        ask.disabled = false;
        chat.addMessage({ role: "error", text: failure.message });
      }
    });
    row.appendChild(ask);
  }
  bubble.appendChild(row);
}

async function showLeftMessages() {
  try {
    const data = await api("GET", "/api/chat/left-messages");
    (data.messages || []).forEach(addLeftMessage);
  } catch { /* history still shows */ }
}

// 留言 instead of waiting for a helper; a booked 12345 call-back needs no one online.
chat.on("state", (mode, ticket) => {
  const waiting = ticket && (ticket.status === "queued" || ticket.status === "transferred");
  $leaveRow.hidden = !(waiting && !ticket.helpers_on_duty && ticket.channel !== "hotline_12345");
  leaveWhy.textContent = LEAVE_WAITING;
  if ($leaveRow.hidden) showLeaveForm(false);
});
// The gateway answering without the bot offers 留言 (api/fallback.py).
chat.on("reply", (data) => {
  if ((data.messages || []).some((m) => m.custom && m.custom.leave_message)) {
    leaveWhy.textContent = LEAVE_NO_BOT;
    $leaveRow.hidden = false;
  }
});
chat.on("left_message", addLeftMessage);
chat.on("started", showLeftMessages);
