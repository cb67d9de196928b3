// 长辈模式 (elders' mode, after MIIT's 2021 《互联网网站适老化通用设计规范》): text of 24 px and
// more, targets of 60 × 60 px, stronger contrast, nothing that pops up. The choice is kept in
// localStorage. This file is loaded in the portal's <head>, before the body exists, so a
// remembered choice is on before the first paint; the toggle is wired once the page is parsed.
"use strict";

(() => {
  const KEY = "xiaobao.elderMode";
  const root = document.documentElement;

  function remembered() {
    try { return localStorage.getItem(KEY) === "on"; } catch (err) { return false; }
  }

  function remember(on) {
    try {
      if (on) localStorage.setItem(KEY, "on"); else localStorage.removeItem(KEY);
    } catch (err) { /* storage refused (private window): on for this page only */ }
  }

  function apply(on) {
    root.classList.toggle("elder", on);
    const toggle = document.getElementById("elder-toggle");
    if (toggle) toggle.setAttribute("aria-pressed", on ? "true" : "false");
  }

  apply(remembered());

  document.addEventListener("DOMContentLoaded", () => {
    apply(root.classList.contains("elder"));
    document.getElementById("elder-toggle").addEventListener("click", () => {
      const on = !root.classList.contains("elder");
      remember(on);
      apply(on);
    });
  });

  // No new windows in elders' mode: a link in the conversation opens in this tab (the
  // conversation is kept on the server and shows again on return).
  document.addEventListener("click", (event) => {
    if (!root.classList.contains("elder") || event.defaultPrevented) return;
    const link = event.target.closest && event.target.closest("a[target=_blank]");
    if (!link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    location.assign(link.href);
  });
})();
