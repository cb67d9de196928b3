// Shared helpers for the pages. Every text from the server goes in with textContent:
// what a user or helper typed is shown as text, never parsed as HTML.
"use strict";

const XB = (() => {
  const URL_RE = /(https?:\/\/[^\s<>"'，。；、）)]+)/g;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // Text with http(s) links made clickable; everything else stays plain text.
  function richText(text) {
    const frag = document.createDocumentFragment();
    const parts = String(text || "").split(URL_RE);
    parts.forEach((part, i) => {
      if (i % 2 === 1) {
        const a = el("a", "", part);
        a.href = part;
        a.target = "_blank";
        a.rel = "noopener noreferrer";
        frag.appendChild(a);
      } else if (part) {
        frag.appendChild(document.createTextNode(part));
      }
    });
    return frag;
  }

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  async function api(method, url, body) {
    const init = { method, headers: { "Accept": "application/json" }, credentials: "same-origin" };
    if (body instanceof FormData) {
      init.body = body;  // a file upload: the browser sets the multipart Content-Type
    } else if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch (err) {
      throw new ApiError(0, "network", "网络连接失败，请检查网络后重试。");
    }
    let data = null;
    try { data = await response.json(); } catch (err) { data = null; }
    if (!response.ok) {
      const e = (data && data.error) || {};
      const failure = new ApiError(response.status, e.code || "http_error",
        e.message || ("请求失败（" + response.status + "）"));
      failure.body = data;  // the whole answer, e.g. the per-row errors of an import
      throw failure;
    }
    return data;
  }

  function formatWait(seconds) {
    if (seconds === undefined || seconds === null) return "";
    if (seconds < 60) return "不到1分钟";
    return "约" + Math.round(seconds / 60) + "分钟";
  }

  function formatTime(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    if (isNaN(d.getTime())) return "";
    return d.toLocaleTimeString("zh-CN", { hour: "2-digit", minute: "2-digit" });
  }

  function wsUrl(path) {
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
  }

  // XB.api for a page behind the login: back to the login page (and here again after it)
  // when the session has ended meanwhile.
  function pageApi(page) {
    return async function call(method, url, body) {
      try {
        return await api(method, url, body);
      } catch (err) {
        if (err.status === 401) location.assign("/login?next=" + encodeURIComponent(page));
        throw err;
      }
    };
  }

  // One status line (role=status / aria-live) per page, announced even when a message
  // repeats: the text goes in as a fresh node after a tick.
  function statusLine(id) {
    let timer = null;
    function say(text, isError) {
      const line = document.getElementById(id);
      line.textContent = "";
      line.classList.toggle("error", !!isError);
      clearTimeout(timer);
      timer = setTimeout(() => { line.textContent = text; }, 30);
    }
    // Silence the line (and a message still on its way): it belonged to another view.
    say.clear = () => {
      clearTimeout(timer);
      document.getElementById(id).textContent = "";
    };
    return say;
  }

  // The centre's time zone, which the page carries (<body data-timezone>): its calendar days are
  // the API's, whatever the browser's zone.
  function timeZone() {
    return document.body.dataset.timezone || "Asia/Shanghai";
  }

  // The centre's calendar day ``daysBefore`` days before today, as YYYY-MM-DD.
  function centreDay(daysBefore = 0) {
    const today = new Date().toLocaleDateString("en-CA", { timeZone: timeZone() });
    const day = new Date(today + "T00:00:00Z");
    day.setUTCDate(day.getUTCDate() - daysBefore);
    return day.toISOString().slice(0, 10);
  }

  // Delays between a WebSocket's reconnection attempts: 1 s, 2 s, 4 s … at most 30 s, each
  // with ±25 % jitter so pages cut off together (a gateway or Redis restart) do not all come
  // back at the same instant; reset() once the socket works again.
  function reconnectDelays(firstMs = 1000, maxMs = 30000) {
    let next = firstMs;
    return {
      next() {
        const delay = next;
        next = Math.min(maxMs, next * 2);
        return Math.round(delay * (0.75 + Math.random() * 0.5));
      },
      reset() { next = firstMs; },
    };
  }

  return { el, richText, api, pageApi, statusLine, ApiError, formatWait, formatTime, wsUrl,
    reconnectDelays, timeZone, centreDay };
})();
