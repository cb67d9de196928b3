"""The checks before an item is published: what would make it wrong, or useless, in the check.

Each :class:`Finding` is an ``error`` (publishing is refused: :func:`policies.editing.publish`)
or a ``warning`` (shown to the editor and the reviewer), with a code, where it is (a field, or
a condition's path as ``conditions.all[0]``) and a sentence in Chinese, then English:

- the item itself does not validate (a missing title, a date that is not one, ...), or a
  condition names a field the dictionary does not have (``unknown_field``);
- a condition that can never hold (``never_holds``, no enterprise could qualify), a branch of
  任一满足 / 至少满足 that never can (``dead_branch``), a condition that always holds
  (``always_holds``) — found by :func:`policies.satisfy.witness`;
- its validity already over on the check date (``expired``), not yet begun (``not_yet``), every
  application window closed (``windows_closed``), never or long ago checked against the
  document (``unchecked``, ``stale_check``);
- 免申即享 (granted unasked) on a fact only the enterprise can declare (``declared_only``);
- no 文号, no department, no way to apply (``missing_doc_no``, ``missing_department``,
  ``missing_apply``; 仅告知 items need no way to apply);
- a saved test case whose result is not the one expected (``test_failed``: :func:`run_cases`).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from policies.conditions import ConditionError, atoms_of, parse_condition
from policies.evaluator import Resolver, check_policy, policy_from_dict
from policies.facts import parse_date, parse_facts
from policies.fields import Dictionary, default_dictionary
from policies.satisfy import witness
from policies.schema import PolicyData, TestCase

STALE_AFTER = dt.timedelta(days=365)  # 最近核对 older than this: check the document again


@dataclass(frozen=True)
class Finding:
    level: str  # "error": publishing is refused; "warning": shown
    code: str
    where: str
    message: str

    def to_dict(self) -> dict:
        return {"level": self.level, "code": self.code, "where": self.where,
                "message": self.message}


def errors_of(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.level == "error"]


def check_item(raw: Any, day: dt.date, dictionary: Dictionary | None = None) -> list[Finding]:
    """Every finding about the item ``raw`` (its JSON form) on the check date ``day``."""
    dictionary = dictionary or default_dictionary()
    if not isinstance(raw, dict):
        return [Finding("error", "invalid", "item", "事项应为对象。 / An item must be an object.")]
    out = _validation(raw)
    tree = _tree(raw.get("conditions"), dictionary, out)
    if tree is not None:
        out += _satisfiable(tree, dictionary)
        if raw.get("mode") == "免申即享":
            out += _declared(tree, dictionary)
    elif not raw.get("conditions") and not raw.get("unmodelled"):
        out.append(Finding("warning", "no_conditions", "conditions",
                           "没有设置任何条件：所有企业都会显示为符合。 / No condition: every "
                           "enterprise qualifies."))
    out += _dates(raw, day)
    out += _required(raw)
    out += [Finding("error", "test_failed", f"tests[{c['index']}]",
                    f"测试用例“{c['name'] or c['index'] + 1}”预期"
                    f"{RESULT_WORDS[c['expected']]}，实际{RESULT_WORDS[c['actual']]}。 / Test "
                    "case failed.")
            for c in run_cases(raw, day, dictionary) if not c["passed"]]
    return out


RESULT_WORDS = {"eligible": "符合", "possible": "可能符合", "ineligible": "不符合",
                "not_in_force": "不在有效期内"}


def run_cases(raw: dict, day: dt.date, dictionary: Dictionary | None = None) -> list[dict]:
    """Each saved test case of the item with the result the check gives it now (on its own
    date, else ``day``); none when the item cannot be evaluated yet."""
    dictionary = dictionary or default_dictionary()
    cases = raw["tests"] if isinstance(raw.get("tests"), list) else []
    try:
        policy = policy_from_dict({"id": "test", **{k: raw.get(k) for k in (
            "conditions", "valid_from", "valid_to") if raw.get(k)}}, dictionary)
    except (ValueError, TypeError):
        return []
    out = []
    for index, case in enumerate(cases):
        try:
            case = TestCase.model_validate(case)
        except ValidationError:
            continue  # reported by the validation
        resolve = Resolver(parse_facts(case.facts, dictionary), case.date or day, dictionary,
                           frozenset(case.declined))
        actual = check_policy(policy, resolve).status
        out.append({"index": index, "name": case.name, "expected": case.expected,
                    "actual": actual, "passed": actual == case.expected})
    return out


def _validation(raw: dict) -> list[Finding]:
    try:
        PolicyData.model_validate({**raw, "conditions": None})  # conditions: see _tree
    except ValidationError as exc:
        out = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error.get("loc", ())) or "item"
            if error.get("type") == "missing":
                reason = "必填 / required"
            else:
                reason = str(error.get("msg", "")).removeprefix("Value error, ")
            out.append(Finding("error", "invalid", where, f"{where}: {reason}"))
        return out
    return []


def _tree(raw: Any, dictionary: Dictionary, out: list[Finding]) -> Any:
    if not raw:
        return None
    try:
        return parse_condition(raw, dictionary)
    except ConditionError as exc:
        for where, reason in exc.problems:
            code = "unknown_field" if reason.startswith("未知字段") else "invalid_condition"
            out.append(Finding("error", code, where, f"{where}: {reason}"))
        return None


def _satisfiable(tree: Any, dictionary: Dictionary) -> list[Finding]:
    found = witness(tree, dictionary)
    if found.facts is None:
        if not found.exhaustive:
            return []
        return [Finding("error", "never_holds", "conditions",
                        "条件永远不能满足：没有任何企业能符合，请检查是否互相矛盾。 / The "
                        "conditions can never hold: no enterprise could qualify.")]
    out = _dead_branches(tree, dictionary, "conditions")
    always = witness({"not": tree}, dictionary)
    if always.facts is None and always.exhaustive:
        out.append(Finding("warning", "always_holds", "conditions",
                           "条件总是成立：任何企业都符合，请检查是否遗漏。 / The conditions "
                           "always hold."))
    return out


def _dead_branches(tree: Any, dictionary: Dictionary, path: str) -> list[Finding]:
    if not isinstance(tree, dict):
        return []
    [(key, body)] = tree.items()
    if key == "not":
        return []  # under 除外 a part that never holds is what was meant
    parts = body["of"] if key == "at_least" else body
    where = f"{path}.at_least.of" if key == "at_least" else f"{path}.{key}"
    out = []
    for i, part in enumerate(parts):
        here = f"{where}[{i}]"
        found = witness(part, dictionary)
        if key != "all" and found.facts is None and found.exhaustive:
            group = "任一满足" if key == "any" else "至少满足"
            out.append(Finding("warning", "dead_branch", here,
                               f"“{group}”中的第{i + 1}项永远不能满足。 / This part can never "
                               "hold."))
        else:
            out += _dead_branches(part, dictionary, here)
    return out


def _declared(tree: Any, dictionary: Dictionary) -> list[Finding]:
    out = []
    for name in dict.fromkeys(a.field for a in atoms_of(tree)):
        f = dictionary[name]
        inputs = [f, *(dictionary[i] for i in f.derived_from if i in dictionary)]
        for declared in (i for i in inputs if i.declared):
            out.append(Finding(
                "error", "declared_only", "mode",
                f"免申即享的事项以“{declared.label}”为条件，但这项信息只能由企业自行申报：请改为"
                f"快申快享或依申请，或把该条件移入“需核实”。 / 免申即享 on {declared.name}, "
                "which only the enterprise can declare."))
    return out


def _date(raw: Any) -> dt.date | None:
    try:
        return parse_date(raw) if raw else None
    except (ValueError, TypeError):
        return None  # reported by the validation


def _dates(raw: dict, day: dt.date) -> list[Finding]:
    out = []
    valid_from, valid_to = _date(raw.get("valid_from")), _date(raw.get("valid_to"))
    if valid_to is not None and valid_to < day:
        out.append(Finding("error", "expired", "valid_to",
                           f"有效期已于{valid_to.isoformat()}结束，发布后也不会有企业符合。 / "
                           "Already expired."))
    if valid_from is not None and valid_from > day:
        out.append(Finding("warning", "not_yet", "valid_from",
                           f"尚未施行：{valid_from.isoformat()}起生效，此前体检显示为“尚未施行”。"
                           " / Not in force yet."))
    windows = raw["windows"] if isinstance(raw.get("windows"), list) else []
    ends = [_date(w.get("end")) if isinstance(w, dict) else None for w in windows]
    if windows and all(end is not None and end < day for end in ends):
        out.append(Finding("warning", "windows_closed", "windows",
                           "所有申报窗口都已结束。 / Every application window has closed."))
    checked = _date(raw.get("checked_on"))
    if checked is None:
        out.append(Finding("warning", "unchecked", "checked_on",
                           "未填写最近核对日期：请对照原文核对后填写。 / Never checked against "
                           "the document."))
    elif day - checked > STALE_AFTER:
        out.append(Finding("warning", "stale_check", "checked_on",
                           f"最近核对是{checked.isoformat()}，已超过一年，请重新核对原文。 / "
                           "Checked more than a year ago."))
    return out


def _required(raw: dict) -> list[Finding]:
    out = []
    document = raw["document"] if isinstance(raw.get("document"), dict) else {}
    if not str(document.get("doc_no") or "").strip():
        out.append(Finding("error", "missing_doc_no", "document.doc_no",
                           "未填写文号：企业和帮办无法据此查找原文。 / No document number."))
    if not str(raw.get("department") or "").strip():
        out.append(Finding("error", "missing_department", "department",
                           "未填写主管部门。 / No department."))
    if not str(raw.get("apply") or "").strip() and raw.get("mode") != "仅告知":
        out.append(Finding("error", "missing_apply", "apply",
                           "未填写办理方式（一网通办事项、窗口或电话）。 / How to apply is "
                           "missing."))
    return out
