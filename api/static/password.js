// Staff change their own password: the server checks the current one and the rules
// (xiaobao.accounts.password_problem) and ends the account's other sessions.
import { api } from "./api.js";

const form = document.getElementById("password-form");
const error = document.getElementById("password-error");
const done = document.getElementById("password-done");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  done.hidden = true;
  const next = document.getElementById("new-password").value;
  if (next !== document.getElementById("confirm-password").value) {
    error.textContent = "两次输入的新密码不一致";
    error.hidden = false;
    return;
  }
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    await api("POST", "/api/auth/password", {
      current_password: document.getElementById("current-password").value,
      new_password: next,
    });
    form.reset();
    done.hidden = false;
  } catch (err) {
    error.textContent = err.message;
    error.hidden = false;
  } finally {
    button.disabled = false;
  }
});
