// Pure functions of the links between knowledge-base answers and 政策体检 policies: the ids an
// editor typed, the answer card's 看看我是否符合 button, the page's ?policy=. No DOM: tested
// under Node (tests/js/policy_links.test.js).

const POLICY_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const MAX_POLICIES = 20;

// "a，b, c" (or 、 | spaces) → ["a", "b", "c"], each once, in order.
export function splitIds(text) {
  const ids = String(text || "").split(/[,，、|\s]+/).map((t) => t.trim()).filter(Boolean);
  return Array.from(new Set(ids));
}

// The typed list with one more id (kept once).
export function addPolicyId(text, id) {
  const ids = splitIds(text);
  if (id && !ids.includes(id)) ids.push(id);
  return ids.join("，");
}

// A suggestion as the editor reads it: 小型微利企业所得税优惠（财政部 税务总局公告2023年第12号）· 文号相符
export function suggestionText(s) {
  const doc = s.doc_no ? "（" + s.doc_no + "）" : "";
  const why = s.matched === "doc_no" ? "文号相符" : "标题相符";
  const status = s.status && s.status !== "published" ? " · 尚未发布" : "";
  return (s.title || s.id) + doc + " · " + why + status;
}

// The payload of an answer card's 看看我是否符合: /policy_fact{"policies": …} with no field.
export function isCheckStart(payload) {
  const text = String(payload || "");
  if (!text.startsWith("/policy_fact{")) return false;
  try {
    const data = JSON.parse(text.slice("/policy_fact".length));
    return Boolean(data && data.policies) && data.field === undefined;
  } catch {
    return false;
  }
}

// The 政策体检 page's ?policy=<id> (repeated, or comma-separated): the policies its check is
// restricted to; [] for the whole check. Ids that cannot be a policy's are left out.
export function policiesFromSearch(search) {
  const params = new URLSearchParams(search || "");
  const ids = params.getAll("policy").flatMap((v) => v.split(",")).map((v) => v.trim())
    .filter((v) => POLICY_ID.test(v));
  return Array.from(new Set(ids)).slice(0, MAX_POLICIES);
}
