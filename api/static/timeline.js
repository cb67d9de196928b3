// Messages by their id (the record's primary key): each shown once and in the record's order,
// however it arrives: a reply, a live push, or the re-read after a socket came back. Used by
// the portal's chat and the helper console's transcript. Pure: no DOM.

// A message's id (a positive integer), or null for a line that is not in the record (a
// notice, an error, the welcome). The console's messages have called it ``pk``.
export function messageId(message) {
  if (!message) return null;
  const raw = message.id ?? message.pk;
  if (raw === null || raw === undefined || raw === "") return null;
  const id = Number(raw);
  return Number.isInteger(id) && id > 0 ? id : null;
}

// The messages of ``incoming`` not yet shown (``shown``: a Set of ids), each id once and in id
// order; lines without an id follow, in their order of arrival.
export function unseen(shown, incoming) {
  const fresh = new Map();
  const plain = [];
  for (const message of incoming || []) {
    const id = messageId(message);
    if (id === null) plain.push(message);
    else if (!shown.has(id) && !fresh.has(id)) fresh.set(id, message);
  }
  return [...[...fresh.entries()].sort((a, b) => a[0] - b[0]).map(([, m]) => m), ...plain];
}

// Where a message with ``id`` goes among the lines on screen (``ids``: theirs in page order,
// null for a line without one): the index of the first line with a greater id, or -1 for the
// end. Lines without an id stay where they are.
export function insertionIndex(ids, id) {
  if (id === null || id === undefined) return -1;
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] !== null && ids[i] !== undefined && ids[i] > id) return i;
  }
  return -1;
}

// What a page has shown, and where to re-read from after its socket drops.
// - ``add(message, live)``: true the first time an id is shown, false after (a line without
//   an id is always new); ``live`` (the socket, the history, a re-read) moves the cursor, a
//   REST reply while the socket was down does not, for older messages may still be missing.
// - ``dropped()``: the socket closed; the next re-read starts where the page was then.
// - ``from()``: the id to re-read after (``GET …?after=``).
// - ``caughtUp(messages, complete)``: a re-read's answer was shown; ``complete`` when it was
//   taken after the live subscription was back (nothing can fall between the two any more).
export function createTimeline() {
  const shown = new Set();
  let cursor = 0;
  let resumeFrom = null;
  const advance = (id) => { if (id !== null && id > cursor) cursor = id; };
  return {
    has: (message) => shown.has(messageId(message)),
    add(message, live = true) {
      const id = messageId(message);
      if (id === null) return true;
      if (live) advance(id);
      if (shown.has(id)) return false;
      shown.add(id);
      return true;
    },
    dropped() { if (resumeFrom === null) resumeFrom = cursor; },
    from: () => (resumeFrom === null ? cursor : Math.min(resumeFrom, cursor)),
    caughtUp(messages, complete) {
      (messages || []).forEach((m) => advance(messageId(m)));
      if (complete) resumeFrom = null;
    },
    shownIds: () => new Set(shown),
    reset() { shown.clear(); cursor = 0; resumeFrom = null; },
  };
}
