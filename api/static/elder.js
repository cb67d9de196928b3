// 长辈模式 before the first paint: a classic script in the portal's <head>, run while the page
// is parsed (a module would run after it, and the page could show once in the normal size).
// It only puts a remembered choice on; widgets.js (elderMode) wires the toggle and keeps the
// choice under the same localStorage key.
"use strict";

try {
  if (localStorage.getItem("xiaobao.elderMode") === "on") {
    document.documentElement.classList.add("elder");
  }
} catch { /* storage refused (private window): the normal size */ }
