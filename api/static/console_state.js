// What the console's parts share: the signed-in helper, the ticket on screen and the live
// socket, and the names of channels and ticket states.
import { formatTime } from "./format.js";

export const CHANNELS = { online_helper: "在线", hotline_12345: "12345" };
export const STATUS = {
  queued: "排队中", claimed: "已领取", in_conversation: "服务中", transferred: "已转办",
  resolved: "已解决", unresolved: "未解决", abandoned: "已离开",
};

export const state = {
  me: null,        // GET /api/helper/me, with ``username`` and ``can`` (GET /api/auth/me)
  selected: null,  // ticket id shown in the workspace
  socket: null,    // api.reconnectingSocket to /ws/console
};

// Ask the console socket for a fresh snapshot now (after a claim), not at the next push.
export function syncNow() {
  if (state.socket && state.socket.isOpen()) state.socket.send("sync");
}

// The history of a ticket, one line a step.
export function historyLine(h) {
  return formatTime(h.at) + " " + (STATUS[h.to] || h.to) + (h.actor ? " · " + h.actor : "") +
    (h.note ? " · " + h.note : "");
}
