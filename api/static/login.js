// Console login: on success go where the console sent us (same-site paths only).
"use strict";

(() => {
  const form = document.getElementById("login-form");
  const error = document.getElementById("login-error");
  const params = new URLSearchParams(location.search);
  const next = params.get("next");
  const target = next && next.startsWith("/") && !next.startsWith("//") ? next : "/console";

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      await XB.api("POST", "/api/auth/login", {
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
})();
