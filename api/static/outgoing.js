// Pure: the portal's message on its way out. Each message gets the page's own id, kept while
// it is sent again after a failure (the gateway's record keeps it once by that id,
// api/conversation.py client_id_of); a failure of the network or the server (5xx, the
// gateway's 503 "发送失败，请重试") leaves the text in the box to send again.

export const SEND_FAILED = "发送失败，请重试。";

function randomId(random) {
  if (!random && globalThis.crypto && globalThis.crypto.randomUUID) {
    return globalThis.crypto.randomUUID();
  }
  const r = random || Math.random;
  return Array.from({ length: 4 }, () => Math.floor(r() * 2 ** 32).toString(16).padStart(8, "0"))
    .join("");
}

// ``idFor(text)``: the id of this message — the same while the same text is sent again after a
// failure, a new one for another text or once ``sent()`` says it went through.
export function createOutgoing(random) {
  let current = null;
  return {
    idFor(text) {
      if (!current || current.text !== text) current = { text, id: "m-" + randomId(random) };
      return current.id;
    },
    sent() { current = null; },
  };
}

// Whether ``err`` (an ApiError) means the message may not have gone through and should be
// sent again: no answer at all, a server failure, or the gateway's own send_failed. Refusals
// (too long, a limit, a bad request) are told as they are, and so is bot_unavailable: the
// message was kept, only no answer came (its sentence says so).
export function isSendFailure(err) {
  if (!err || err.code === "bot_unavailable") return false;
  if (err.code === "send_failed" || err.code === "network") return true;
  return err.status === 0 || err.status >= 500;
}
