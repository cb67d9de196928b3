// The edit form's 关联政策: the policies the entry names (title and status), and those its
// answer or source suggests by 文号 or title, each with 关联 to accept it (the preview's
// ``policy_links``: POST /api/kb/preview).
import { button, el } from "./widgets.js";
import { suggestionText } from "./policy_links.js";

export { addPolicyId, splitIds } from "./policy_links.js";

const STATUS = { draft: "草稿", in_review: "待审核", published: "已发布", archived: "已下线" };

export function renderPolicyLinks(box, links, onAccept) {
  box.replaceChildren();
  if (!links) return;
  (links.linked || []).forEach((p) => {
    box.appendChild(el("p", "hint", "已关联：" + (p.title || p.id) + "（" + (STATUS[p.status] || p.status) + "）"
      + (p.status === "published" ? "" : "，发布后才会在答复中出现")));
  });
  const suggestions = links.suggestions || [];
  if (!suggestions.length) return;
  const list = el("ul", "policy-suggestions");
  list.setAttribute("aria-label", "建议关联的政策");
  suggestions.forEach((s) => {
    const item = el("li");
    item.appendChild(el("span", "", "建议关联：" + suggestionText(s)));
    item.appendChild(button("关联", "secondary small-btn", () => onAccept(s.id), "关联政策：" + (s.title || s.id)));
    list.appendChild(item);
  });
  box.appendChild(list);
}
