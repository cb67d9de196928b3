// 结束会话 on the portal, for a shared computer: the server gives this browser a new visitor
// secret, so a reload starts an empty conversation and the previous one cannot be read from
// here; the user may rate the conversation first.
import { api } from "./api.js";
import { chat } from "./chat.js";
import { el } from "./widgets.js";

// Kiosk mode (data-idle-s): an idle page ends its conversation and clears itself, so the
// next person at a shared terminal finds nothing of the last one.
const idleS = Number(document.querySelector("main").dataset.idleS || 0);
if (idleS > 0) {
  let idleTimer = 0;
  const endIdle = async () => {
    try { await api("POST", "/api/chat/end", {}); } catch { /* reload anyway */ }
    location.reload();
  };
  const touch = () => { clearTimeout(idleTimer); idleTimer = setTimeout(endIdle, idleS * 1000); };
  ["keydown", "pointerdown", "touchstart"].forEach((e) => document.addEventListener(e, touch));
  touch();
}

// 结束会话: the user may rate the conversation first (a 差评 asks why), then the page is
// cleared and the browser gets a new conversation.
const endConversation = async (body) => {
  try {
    await api("POST", "/api/chat/end", body);
    location.reload();
  } catch (err) {
    chat.showError(err.message);
  }
};
document.getElementById("end-conversation").addEventListener("click", () => {
  if (document.getElementById("end-panel")) { document.getElementById("end-panel").querySelector("button").focus(); return; }
  const item = chat.addMessage({ role: "notice", text: "结束本次会话？结束后本页将清空，下一位使用者看不到您的对话。结束前可以为本次服务评价（可选）：" });
  const bubble = item.querySelector(".bubble") || item;
  const panel = el("div", "buttons");
  panel.id = "end-panel";
  const reason = el("input");
  Object.assign(reason, { id: "end-reason", maxLength: 500, placeholder: "请说明不满意的原因（可选）" });
  reason.setAttribute("aria-label", "不满意的原因");
  ["非常满意", "满意", "基本满意", "不满意", "非常不满意"].forEach((level) => {
    const b = el("button", "option", level);
    b.type = "button";
    b.addEventListener("click", () => endConversation({ rating: level, reason: reason.value }));
    panel.appendChild(b);
  });
  const skip = el("button", "option", "不评价，直接结束");
  skip.type = "button";
  skip.addEventListener("click", () => endConversation({}));
  panel.append(skip, reason);
  bubble.appendChild(panel);
  panel.querySelector("button").focus();
});
