// 企业登录 on the portal (一网通办 法人 sign-in, api/routes/enterprise_auth.py): the header shows
// "企业登录" to an anonymous visitor and "已登录：<企业名称>（退出）" to a signed-in enterprise,
// with a link to 我的政策.
// 退出 ends the session on the server, then goes where the gateway says (the identity
// provider's end-session page, or back here).
import { api } from "./api.js";

const login = document.getElementById("enterprise-login");
const signedIn = document.getElementById("enterprise-signed-in");
const nameEl = document.getElementById("enterprise-name");
const logout = document.getElementById("enterprise-logout");
const policies = document.getElementById("enterprise-policies");  // 我的政策, signed in only

async function show() {
  try {
    const me = await api("GET", "/api/enterprise/me");
    nameEl.textContent = me.name || me.uscc;
    login.hidden = true;
    signedIn.hidden = false;
    if (policies) policies.hidden = false;
  } catch {
    login.hidden = false;  // anonymous (401), or the gateway unreachable: offer sign-in
    signedIn.hidden = true;
    if (policies) policies.hidden = true;
  }
}

if (login && signedIn) {
  logout.addEventListener("click", async () => {
    logout.disabled = true;
    try {
      const done = await api("POST", "/auth/enterprise/logout", {});
      location.assign(done.redirect || "/");
    } catch {
      logout.disabled = false;
    }
  });
  show();
}
