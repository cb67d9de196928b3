// The pages' client of the gateway's API: JSON requests with the errors the API sends turned
// into ApiError (status, code, the sentence for the user), and WebSockets that come back by
// themselves after a gateway or Redis restart. The browser adds the Origin header the gateway
// checks (api/web_security.py) to every same-origin POST, PUT and DELETE; credentials are the
// session cookie.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function api(method, url, body) {
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
  } catch {
    throw new ApiError(0, "network", "网络连接失败，请检查网络后重试。");
  }
  let data;
  try { data = await response.json(); } catch { data = null; }
  if (!response.ok) {
    const e = (data && data.error) || {};
    const failure = new ApiError(response.status, e.code || "http_error",
      e.message || ("请求失败（" + response.status + "）"));
    failure.body = data;  // the whole answer, e.g. the per-row errors of an import
    throw failure;
  }
  return data;
}

// api() for a page behind the login: back to the login page (and here again after it) when
// the session has ended meanwhile.
export function pageApi(page) {
  return async function call(method, url, body) {
    try {
      return await api(method, url, body);
    } catch (err) {
      if (err.status === 401) location.assign("/login?next=" + encodeURIComponent(page));
      throw err;
    }
  };
}

// The signed-in account and what it may do (GET /api/auth/me: {account, can}); the pages show
// and hide by ``can`` (xiaobao.policy.capabilities), never by role names.
export function whoAmI() {
  return api("GET", "/api/auth/me");
}

export function wsUrl(path) {
  return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
}

// Delays between a WebSocket's reconnection attempts: 1 s, 2 s, 4 s … at most 30 s, each with
// ±25 % jitter so pages cut off together (a gateway or Redis restart) do not all come back at
// the same instant; reset() once the socket works again.
export function reconnectDelays(firstMs = 1000, maxMs = 30000, random = Math.random) {
  let next = firstMs;
  return {
    next() {
      const delay = next;
      next = Math.min(maxMs, next * 2);
      return Math.round(delay * (0.75 + random() * 0.5));
    },
    reset() { next = firstMs; },
  };
}

// A WebSocket to ``path`` that reconnects after each close, with reconnectDelays(). The
// messages arrive parsed (a frame that is not JSON is dropped). ``onClose(event)`` returning
// false stops it (the page goes elsewhere). The caller says when the socket works again
// (``working()``): on open for the chat, on the first snapshot for the console, whose socket
// may open and close at once while Redis is down.
export function reconnectingSocket(path, { onOpen, onMessage, onClose } = {}) {
  const delays = reconnectDelays();
  const handle = {
    socket: null,
    isOpen: () => !!handle.socket && handle.socket.readyState === WebSocket.OPEN,
    send: (text) => handle.socket.send(text),
    working: () => delays.reset(),
  };
  function connect() {
    let socket;
    try { socket = new WebSocket(wsUrl(path)); } catch { return; }
    handle.socket = socket;
    socket.addEventListener("open", () => { if (onOpen) onOpen(); });
    socket.addEventListener("close", (event) => {
      if (onClose && onClose(event) === false) return;
      setTimeout(connect, delays.next());
    });
    socket.addEventListener("message", (event) => {
      let data;
      try { data = JSON.parse(event.data); } catch { return; }
      if (onMessage) onMessage(data);
    });
  }
  connect();
  return handle;
}
