// Console login: on success go where the console sent us. The server checked ?next= (same-site
// paths only, api/web_security.py safe_next_path) and put the result in data-next.
import { api } from "./api.js";

const form = document.getElementById("login-form");
const error = document.getElementById("login-error");
const target = form.dataset.next || "/console";

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    await api("POST", "/api/auth/login", {
      username: document.getElementById("username").value.trim(),
      password: document.getElementById("password").value,
    });
    location.assign(target);
  } catch (err) {
    error.textContent = err.message;
    error.hidden = false;
  } finally {
    button.disabled = false;
  }
});
