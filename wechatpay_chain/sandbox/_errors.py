"""WeChat Pay's error answers: :class:`Failure` and the ``PARAM_ERROR`` shapes observed from the real service.

Validation issues (from :mod:`wechatpay_chain._schemas.spec`) become the answers WeChat Pay gives, in its
wording: every unknown member in one ``请求中含有未在API文档中定义的参数`` answer (``detail.value`` lists
``/body/...`` paths), otherwise the first issue (wrong type, missing, length, range, enum, pattern). ``detail``
also carries the sandbox's ``field`` (JSON pointer, or the query parameter name) and ``issue`` (English), so a
test or a user sees exactly which member failed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .._schemas.spec import Field, Issue

__all__ = ["Failure", "invalid", "not_found", "param_error", "param_failure"]

UNKNOWN_MEMBERS = "请求中含有未在API文档中定义的参数"
_TYPE_WORDS = {
    "integer": "一个合法的 64 位有符号整数",
    "string": "一个合法的字符串",
    "boolean": "一个合法的布尔值",
    "object": "一个合法的 JSON 对象",
    "array": "一个合法的 JSON 数组",
}


class Failure(Exception):
    """A non-2xx answer: ``status``, ``code``, ``message`` and an optional ``detail``. Raise it from a handler."""

    def __init__(self, status: int, code: str, message: str, detail: dict[str, Any] | None = None) -> None:
        super().__init__(status, code, message)
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail

    def __str__(self) -> str:  # what ``sb.pay(...)`` on a paid order shows, not the args tuple
        return f"{self.status} {self.code}: {self.message}" + (f" {self.detail}" if self.detail else "")

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.detail is not None:
            doc["detail"] = self.detail
        return doc


def param_error(field_path: str, issue: str, location: str = "body", pointer: str | None = None) -> Failure:
    """400 PARAM_ERROR for a rule the schema cannot state (``detail.field`` names the member)."""
    if pointer is None:
        pointer = "/" + field_path.replace(".", "/") if location == "body" else field_path
    detail = {"location": location, "field": pointer, "issue": issue}
    return Failure(400, "PARAM_ERROR", f"参数错误: {field_path or '(body)'}: {issue}", detail)


def invalid(field_path: str, issue: str, code: str = "INVALID_REQUEST", status: int = 400) -> Failure:
    """A business rule that combines members (``INVALID_REQUEST`` by default); ``detail.field`` names one."""
    detail = {"location": "body", "field": "/" + field_path.replace(".", "/") if field_path else "", "issue": issue}
    return Failure(status, code, f"传入参数不符合业务规则: {field_path or '(body)'}: {issue}", detail)


def not_found(message: str) -> Failure:
    return Failure(404, "NOT_FOUND", message)


def _source(issue: Issue, location: str) -> str:
    return f"/{location}{issue.pointer}" if location != "query" else f"/query/{issue.dotted}"


def _label(spec: Field | None, issue: Issue) -> str:
    leaf = spec
    for part in issue.path:
        if leaf is None:
            break
        leaf = leaf.items if isinstance(part, int) else (leaf.fields or {}).get(part)
    name = str(issue.path[-1]) if issue.path else "body"
    return (leaf.doc if leaf is not None and leaf.doc else name).split("<")[0].strip() or name


def _is_type_issue(problem: str) -> bool:
    expected, _, got = problem.removeprefix("must be ").partition(", got ")
    return problem.startswith("must be ") and expected in _TYPE_WORDS and bool(got) and " " not in got


def param_failure(issues: Iterable[Issue], spec: Field | None = None, location: str = "body") -> Failure | None:
    """The answer WeChat Pay gives for these issues (``None`` if there are none)."""
    found = list(issues)
    if not found:
        return None
    unknown = [i for i in found if i.problem.startswith("unknown field")]
    if unknown:
        first = unknown[0]
        detail: dict[str, Any] = {
            "location": None,
            "value": [_source(i, location) for i in unknown],
            "field": first.pointer if location != "query" else first.dotted,
            "issue": first.problem,
        }
        hint = first.problem.partition("; ")[2]
        return Failure(400, "PARAM_ERROR", UNKNOWN_MEMBERS + (f"（{hint}）" if hint else ""), detail)
    issue = found[0]
    source, label = _source(issue, location), _label(spec, issue)
    field = issue.pointer if location != "query" else issue.dotted
    detail = {"location": location, "value": issue.value, "field": field, "issue": issue.problem}
    problem, words = issue.problem, issue.problem.split()
    mapped = f"输入源“{source}”映射到字段“{label}”"
    if problem == "required":
        plain = issue.pointer if location != "query" else "/" + issue.dotted
        message = f"输入源“{plain}”映射到字段“{label}”必填性规则校验失败,此字段为必填项"
    elif _is_type_issue(problem):
        expected = problem.removeprefix("must be ").partition(",")[0]
        message = f"无法将 JSON 输入源“{source}”映射到目标字段“{label}”中，此字段需要{_TYPE_WORDS[expected]}"
    elif problem.startswith("must not be null"):
        message = f"无法将 JSON 输入源“{source}”映射到目标字段“{label}”中，此字段不能为 null"
    elif problem.startswith("must be at least") and problem.endswith("characters"):
        message = f"{mapped}字符串规则校验失败，字符数 {len(issue.value or '')}，小于最小值 {words[4]}"
    elif problem.startswith("must be at most") and problem.endswith("characters"):
        count = issue.length if issue.length is not None else len(issue.value or "")
        message = f"{mapped}字符串规则校验失败，字符数 {count}，大于最大值 {words[4]}"
    elif problem.startswith("must be ≥"):
        message = f"{mapped}规则校验失败,值低于最小值 {words[-1]}"
    elif problem.startswith("must be ≤"):
        message = f"{mapped}规则校验失败,值高于最大值 {words[-1]}"
    else:
        message = f"{mapped}规则校验失败，{problem}"
    return Failure(400, "PARAM_ERROR", message, detail)
