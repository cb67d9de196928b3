// The portal (企业门户): the chat, its 留言 and 结束会话, 企业登录, and the 长辈模式 toggle.
import "./chat.js";
import "./chat_leave.js";
import "./chat_end.js";
import "./enterprise_signin.js";
import { elderMode } from "./widgets.js";

elderMode();
