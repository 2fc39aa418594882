"""Regenerate the product-coupon (商品券) schemas from the current official API pages.

``python -m wechatpay_chain._schemas._pages DOCS_DIR`` reads the pages under
``DOCS_DIR/openapi/v3/marketing/partner/product-coupon/**`` and ``DOCS_DIR/webhook/v3/PRODUCT_COUPON_SP.*.md``
(the layout of the official docs mirror) and writes:

* ``wechatpay_chain/_schemas/product_coupon_pages.py``: one request/query/response spec per operation (35)
  and the two notification resources, with the limits the pages state elsewhere (:data:`LIMITS`) applied;
* ``tests/fixtures/product_coupon_examples.json``: each operation's published example call, so the tests
  prove every example is accepted without reading the docs.

Run it again when the pages change, then ``python -m wechatpay_chain._schemas._gen > wechatpay_chain/types.py``.
Nothing imports this module at run or test time.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .spec import Field

ROOT = Path(__file__).resolve().parents[2]
FAMILY = "openapi/v3/marketing/partner/product-coupon"
PREFIX = "v3/marketing/partner/product-coupon"

#: (METHOD, path under the family) → operation name (stable: the client, the sandbox and the types use it).
NAMES: dict[tuple[str, str], str] = {
    ("POST", "product-coupons"): "create_product_coupon",
    ("GET", "product-coupons/{product_coupon_id}"): "get_product_coupon",
    ("PATCH", "product-coupons/{product_coupon_id}"): "patch_product_coupon",
    ("POST", "product-coupons/{product_coupon_id}/deactivate"): "deactivate_product_coupon",
    ("POST", "product-coupons/{product_coupon_id}/stocks"): "add_stock",
    ("GET", "product-coupons/{product_coupon_id}/stocks"): "list_stocks",
    ("GET", "product-coupons/{product_coupon_id}/stocks/{stock_id}"): "get_stock",
    ("PATCH", "product-coupons/{product_coupon_id}/stocks/{stock_id}"): "patch_stock",
    ("POST", "product-coupons/{product_coupon_id}/stocks/{stock_id}/deactivate"): "deactivate_stock",
    ("POST", "product-coupons/{product_coupon_id}/stocks/{stock_id}/update-budget"): "update_stock_budget",
    ("POST", "product-coupons/{product_coupon_id}/stocks/{stock_id}/upload-coupon-codes"): "upload_coupon_codes",
    ("POST", "product-coupons/{product_coupon_id}/stocks/{stock_id}/associate-stores"): "associate_stock_stores",
    ("POST", "product-coupons/{product_coupon_id}/stocks/{stock_id}/disassociate-stores"): "disassociate_stock_stores",
    ("GET", "product-coupons/{product_coupon_id}/stocks/{stock_id}/associated-stores"): "list_stock_stores",
    ("POST", "product-coupons/{product_coupon_id}/stock-bundles"): "add_stock_bundle",
    ("PATCH", "product-coupons/{product_coupon_id}/stock-bundles/{stock_bundle_id}"): "patch_stock_bundle",
    ("POST", "product-coupons/{product_coupon_id}/stock-bundles/{stock_bundle_id}/update-budget"):
        "update_stock_bundle_budget",
    ("POST", "product-coupons/{product_coupon_id}/stock-bundles/{stock_bundle_id}/associate-stores"):
        "associate_stock_bundle_stores",
    ("POST", "product-coupons/{product_coupon_id}/stock-bundles/{stock_bundle_id}/disassociate-stores"):
        "disassociate_stock_bundle_stores",
    ("POST", "users/{openid}/coupons"): "send_user_coupon",
    ("GET", "users/{openid}/coupons"): "list_user_coupons",
    ("GET", "users/{openid}/coupons/{coupon_code}"): "get_user_coupon",
    ("POST", "users/{openid}/coupons/{coupon_code}/confirm"): "confirm_user_coupon",
    ("POST", "users/{openid}/coupons/{coupon_code}/use"): "use_user_coupon",
    ("POST", "users/{openid}/coupons/{coupon_code}/return"): "return_user_coupon",
    ("POST", "users/{openid}/coupons/{coupon_code}/deactivate"): "deactivate_user_coupon",
    ("POST", "users/{openid}/pre-send-coupon"): "pre_send_user_coupon",
    ("POST", "users/{openid}/coupon-bundles"): "send_user_coupon_bundle",
    ("POST", "users/{openid}/coupon-bundles/{user_coupon_bundle_id}/deactivate"): "deactivate_user_coupon_bundle",
    ("POST", "users/{openid}/pre-send-coupon-bundle"): "pre_send_user_coupon_bundle",
    ("POST", "notify-configs"): "set_notify_config",
    ("GET", "notify-configs"): "get_notify_config",
    ("POST", "media/upload-image"): "upload_image",
    ("POST", "image-generation-tasks"): "create_image_generation_task",
    ("GET", "image-generation-tasks/{task_id}"): "get_image_generation_task",
}
_REQUEST_NO = {"min_length": 6, "max_length": 40, "pattern": r"[0-9A-Za-z_\-]+"}
#: Limits the official docs state outside these tables (issue 12), applied to request members by path suffix
#: (``*`` = any member). Sandbox choices where the docs are silent are marked in docs/sandbox.md.
LIMITS: dict[str, dict[str, Any]] = {
    "out_request_no": _REQUEST_NO,
    "send_request_no": _REQUEST_NO,
    "deactivate_request_no": _REQUEST_NO,
    "deactivate_reason": {"min_length": 1, "max_length": 150},
    "display_info.name": {"min_length": 3, "max_length": 15},
    "display_info.detail_image_url_list": {"max_items": 8},
    "stock_send_rule.max_count": {"minimum": 1},
    "stock_send_rule.max_count_per_day": {"minimum": 1},
    "stock_send_rule.max_count_per_user": {"minimum": 1},
    "discount_coupon.percent_off": {"minimum": 1, "maximum": 99},
    "discount_coupon_list.percent_off": {"minimum": 1, "maximum": 99},
    "threshold": {"minimum": 0},
    "discount_amount": {"minimum": 1},
    "exchange_price": {"minimum": 0},
    "day_period_list.begin_time": {"minimum": 0, "maximum": 86400},
    "day_period_list.end_time": {"minimum": 0, "maximum": 86400},
    "available_days": {"minimum": 1},
    "available_seconds": {"minimum": 0},  # the published examples send 0
    "wait_days_after_receive": {"minimum": 0},
    "page_size": {"minimum": 1, "maximum": 50},
    "target_max_count": {"minimum": 1},
    "target_max_count_per_day": {"minimum": 1},
    "store_list": {"min_items": 1, "max_items": 50},
    "code_list": {"min_items": 1, "max_items": 200},
    "remark": {"max_length": 20},
    "attach": {"max_length": 128},
}
#: Members other documents put in the wrong place, with the hint the error gives.
MISPLACED: dict[tuple[str, str], dict[str, str]] = {
    ("add_stock_bundle", "stock_bundle.stock_send_rule"): {
        "progressive_bundle_usage_rule": "002 (the official page) puts it in stock_bundle, not in stock_send_rule",
        "usage_rule_display_info": "it belongs in stock_bundle", "coupon_display_info": "it belongs in stock_bundle",
        "notify_config": "it belongs in stock_bundle", "store_scope": "it belongs in stock_bundle",
    },
}
#: Enum values pages omit but sibling pages require, by member name: the bundle pages need PROGRESSIVE_BUNDLE
#: coupons, which the coupon pages (SINGLE | SEQUENTIAL) cannot otherwise create or describe.
EXTRA_ENUM: dict[str, tuple[str, ...]] = {"usage_mode": ("PROGRESSIVE_BUNDLE",)}
_TIME = re.compile(r"(^|_)time$")


@dataclass
class Row:
    name: str
    required: bool
    indent: int
    type: str
    desc: str
    children: list[Row] = field(default_factory=list)


@dataclass
class Op:
    name: str
    method: str
    template: str
    title: str
    request: Field | None
    query: Field | None
    response: Field | None
    multipart: bool
    example: dict[str, Any] | None


def _rows(table: str) -> list[Row]:
    rows: list[Row] = []
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|", 2)]
        if len(cells) < 2 or "colspan" in cells[0] or cells[0].startswith("---"):
            continue
        head = re.match(r"^(\S+)\s*(\{([^}]*)\})?", cells[0])
        assert head is not None, line  # noqa: S101 - generator input check
        attrs = head.group(3) or ""
        indent = re.search(r"data-indent=(\d+)", attrs)
        kind = cells[1].split()[0] if cells[1] else "string"
        rows.append(Row(head.group(1), "data-required" in attrs, int(indent.group(1)) if indent else 0, kind,
                        cells[2] if len(cells) > 2 else ""))
    roots: list[Row] = []
    stack: list[Row] = []
    for row in rows:
        while stack and stack[-1].indent >= row.indent:
            stack.pop()
        (stack[-1].children if stack else roots).append(row)
        stack.append(row)
    return roots


def _field(row: Row, path: str, op: str, request: bool) -> Field:
    label, _, rest = row.desc.partition("<br/>")
    label = re.sub(r"`", "", label).strip()
    enum = tuple(re.findall(r"`([A-Za-z0-9_]+)`", rest)) if "枚举值" in rest else None
    if enum is not None:
        enum += tuple(v for v in EXTRA_ENUM.get(row.name, ()) if v not in enum)
    base = row.type
    array = base.endswith("[]")
    if array:
        base = base[:-2]
    base = {"number": "integer"}.get(base, base)
    if base == "object":
        fields = {c.name: _field(c, f"{path}.{c.name}" if path else c.name, op, request) for c in row.children}
        spec = Field("object", fields=fields, misplaced=MISPLACED.get((op, path), {}) if request else {}, doc=label)
    else:
        spec = Field(base, enum=enum or None, doc=label)
        if request and base == "string" and _TIME.search(row.name):
            spec = replace(spec, format="date-time")
    limits: dict[str, Any] = {}
    if request:
        for suffix, rule in LIMITS.items():
            if path == suffix or path.endswith("." + suffix):
                limits.update(rule)
    item_limits = {k: v for k, v in limits.items() if k not in ("min_items", "max_items")}
    if array:
        if item_limits:
            spec = replace(spec, **item_limits)
        return Field("array", row.required, items=spec, doc=label,
                     min_items=limits.get("min_items"), max_items=limits.get("max_items"))
    return replace(spec, required=row.required, **item_limits)


def _sections(text: str) -> list[tuple[str, str, str]]:
    """``(method, title, body)`` for each operation of a page (``{#mix}`` pages hold two)."""
    heads = list(re.finditer(r"^(#{1,2}) (.*?) \{#(post|get|patch|put|delete)\}\s*$", text, re.M))
    title = re.search(r"^title: (.*)$", text, re.M)
    out = []
    for i, head in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        name = head.group(2) if "frontmatter" not in head.group(2) else (title.group(1) if title else "")
        out.append((head.group(3).upper(), name.strip(), text[head.end():end]))
    return out


# -- PHP example arrays -------------------------------------------------------------------------------------
_TOKEN = re.compile(
    r"\s*(?:(\[)|(\])|(=>)|(,)|'((?:[^'\\]|\\.)*)'|(-?\d+(?:\.\d+)?)|(true|false|null)|(\$[^,\]]+))", re.S
)


def _php(text: str) -> Any:
    tokens: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ValueError(f"cannot read PHP near {text[pos:pos + 40]!r}")
        pos = m.end()
        if m.group(1):
            tokens.append(("[", None))
        elif m.group(2):
            tokens.append(("]", None))
        elif m.group(3):
            tokens.append(("=>", None))
        elif m.group(4):
            tokens.append((",", None))
        elif m.group(5) is not None:
            tokens.append(("v", re.sub(r"\\(.)", r"\1", m.group(5))))
        elif m.group(6):
            tokens.append(("v", float(m.group(6)) if "." in m.group(6) else int(m.group(6))))
        elif m.group(7):
            tokens.append(("v", {"true": True, "false": False, "null": None}[m.group(7)]))
        else:  # a PHP expression (``$media->getStream()``): kept as its source text
            tokens.append(("v", m.group(8).strip()))
    value, rest = _php_value(tokens, 0)
    assert rest == len(tokens)  # noqa: S101 - generator input check
    return value


def _php_value(tokens: list[tuple[str, Any]], i: int) -> tuple[Any, int]:
    kind, value = tokens[i]
    if kind == "v":
        return value, i + 1
    assert kind == "["  # noqa: S101 - generator input check
    i += 1
    pairs: list[tuple[Any, Any]] = []
    items: list[Any] = []
    while tokens[i][0] != "]":
        first, i = _php_value(tokens, i)
        if tokens[i][0] == "=>":
            second, i = _php_value(tokens, i + 1)
            pairs.append((first, second))
        else:
            items.append(first)
        if tokens[i][0] == ",":
            i += 1
    if pairs and items:
        raise ValueError("mixed PHP array")
    return (dict(pairs) if pairs or not items else items), i + 1


def _example(section: str) -> dict[str, Any] | None:
    block = re.search(r"```php \[异步声明式\]\n(.*?)```", section, re.S)
    if block is None:
        return None
    call = re.search(r"->(get|post|patch|put|delete)Async\((.*)\)\s*->then", block.group(1), re.S)
    if call is None:
        return None
    args = call.group(2).strip()
    if not args:
        return {}
    doc = _php(args)
    if not isinstance(doc, dict):
        raise ValueError("example arguments are not an array")
    return doc


def read_page(path: Path, rel: str) -> list[Op]:
    text = path.read_text()
    ops = []
    for method, title, body in _sections(text):
        name = NAMES[(method, rel)]
        req = re.search(r"\| 请求参数.*?\n(.*?)\{\.im-table #request\}", body, re.S)
        res = re.search(r"\| 返回字典.*?\n(.*?)\{\.im-table #response\}", body, re.S)
        request = query = None
        multipart = False
        if req is not None:
            for row in _rows("| h |\n| --- |\n" + req.group(1)):
                if row.name == "json":
                    request = _field(row, "", name, True)
                elif row.name == "query":
                    query = _field(row, "", name, True)
                elif row.name == "body":
                    multipart = True
                    meta = next(c for c in row.children if c.name == "meta")
                    request = _field(replace(meta, type="object"), "", name, True)
        response = None
        if res is not None:
            top = Row("response", True, -1, "object", "", _rows("| h |\n| --- |\n" + res.group(1)))
            response = _field(top, "", name, False)
        if response is None:
            response = Field("object", fields={})
        ops.append(Op(name, method, f"{PREFIX}/{rel}", title, request, query, response, multipart, _example(body)))
    return ops


def read_notification(path: Path) -> Field:
    text = path.read_text()
    table = re.search(r"\| 请求参数.*?\n(.*?)\{\.im-table", text, re.S)
    assert table is not None  # noqa: S101 - generator input check
    rows = _rows("| h |\n| --- |\n" + table.group(1))
    body = next(r for r in rows if r.name == "body")
    resource = next(c for c in body.children if c.name == "resource")
    cipher = next(c for c in resource.children if c.name == "ciphertext")
    plain = Row("resource", True, 0, "object", "通知资源数据（解密后）", cipher.children)
    return _field(plain, "", "notification", False)


# -- rendering ----------------------------------------------------------------------------------------------
class _Writer:
    """Python source for Field trees, with repeated object subtrees emitted once as constants."""

    def __init__(self) -> None:
        self.consts: dict[str, str] = {}
        self.lines: list[str] = []
        self.counts: dict[str, int] = {}

    def count(self, spec: Field) -> None:
        if spec.type == "object" and spec.fields:
            key = repr(spec)
            self.counts[key] = self.counts.get(key, 0) + 1
            for sub in spec.fields.values():
                self.count(sub)
        elif spec.items is not None:
            self.count(spec.items)

    def expr(self, spec: Field) -> str:
        if spec.type == "object":
            key = repr(spec)
            inner = ", ".join(f"{k!r}: {self.expr(v)}" for k, v in (spec.fields or {}).items())
            args = [repr(spec.doc), "{" + inner + "}"]
            if spec.required:
                args.append("required=True")
            if spec.misplaced:
                args.append(f"misplaced={dict(spec.misplaced)!r}")
            text = f"_o({', '.join(args)})"
            if self.counts.get(key, 0) > 1 and len(spec.fields or {}) > 1:
                name = self.consts.get(key)
                if name is None:
                    name = f"_S{len(self.consts) + 1}"
                    self.consts[key] = name
                    self.lines.append(f"{name} = {text}")
                return name
            return text
        if spec.type == "array":
            assert spec.items is not None  # noqa: S101 - arrays always have items
            args = [self.expr(spec.items), repr(spec.doc)]
            args += [f"{k}={getattr(spec, k)!r}" for k in ("required", "min_items", "max_items") if getattr(spec, k)]
            return f"_a({', '.join(args)})"
        args = [repr(spec.type), repr(spec.doc)]
        for key in ("required", "enum", "min_length", "max_length", "pattern", "format", "minimum", "maximum"):
            value = getattr(spec, key)
            if value is not None and value is not False:
                args.append(f"{key}={value!r}")
        return f"_f({', '.join(args)})"


def render(ops: list[Op], notifications: dict[str, Field]) -> str:
    writer = _Writer()
    for op in ops:
        for spec in (op.request, op.query, op.response):
            if spec is not None:
                writer.count(spec)
    for spec in notifications.values():
        writer.count(spec)
    entries = []
    for op in ops:
        parts = [repr(op.name), repr(op.method), repr(op.template), repr(op.title)]
        for spec in (op.request, op.query, op.response):
            parts.append("None" if spec is None else writer.expr(spec))
        parts.append(repr(op.multipart))
        entries.append("    OperationSpec(" + ", ".join(parts) + "),")
    notes = [f"    {event!r}: {writer.expr(spec)}," for event, spec in notifications.items()]
    head = [
        '"""Specs of the 35 product-coupon (商品券) operations and their two notifications.',
        "",
        "GENERATED by ``python -m wechatpay_chain._schemas._pages DOCS_DIR`` from the current official pages; do not",
        "edit by hand (change the generator's NAMES/LIMITS/MISPLACED and rerun).",
        '"""',
        "",
        "# ruff: noqa: E501",
        "from __future__ import annotations",
        "",
        "from typing import Any, NamedTuple",
        "",
        "from .spec import Field",
        "",
        '__all__ = ["NOTIFICATIONS", "OPERATIONS", "OperationSpec"]',
        "",
        "",
        "class OperationSpec(NamedTuple):",
        '    """One operation as its page documents it."""',
        "",
        "    name: str",
        "    method: str",
        "    template: str",
        "    title: str",
        "    request: Field | None",
        "    query: Field | None",
        "    response: Field",
        "    multipart: bool",
        "",
        "",
        "def _f(kind: str, doc: str, **kw: Any) -> Field:",
        "    return Field(kind, doc=doc, **kw)",
        "",
        "",
        "def _o(doc: str, fields: dict[str, Field], required: bool = False, misplaced: dict[str, str] | None = None,",
        "       ) -> Field:",
        '    return Field("object", required, fields=fields, misplaced=misplaced or {}, doc=doc)',
        "",
        "",
        "def _a(items: Field, doc: str, required: bool = False, min_items: int | None = None,",
        "       max_items: int | None = None) -> Field:",
        '    return Field("array", required, items=items, min_items=min_items, max_items=max_items, doc=doc)',
        "",
        "",
    ]
    body = ["OPERATIONS: tuple[OperationSpec, ...] = (", *entries, ")", "", "#: Decrypted ``resource`` of each event.",
            "NOTIFICATIONS: dict[str, Field] = {", *notes, "}"]
    return "\n".join([*head, *writer.lines, "", "", *body]) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    docs = Path(argv[0])
    base = docs / FAMILY
    ops: list[Op] = []
    for page in sorted(base.rglob("*.md")):
        ops += read_page(page, str(page.relative_to(base))[: -len(".md")])
    order = list(NAMES.values())
    ops.sort(key=lambda op: order.index(op.name))
    missing = set(order) - {op.name for op in ops}
    if missing:
        raise SystemExit(f"pages not found for: {sorted(missing)}")
    notes = {
        event: read_notification(docs / "webhook" / "v3" / f"{event}.md")
        for event in ("PRODUCT_COUPON_SP.SEND", "PRODUCT_COUPON_SP.IMAGE_GENERATION")
    }
    (ROOT / "wechatpay_chain" / "_schemas" / "product_coupon_pages.py").write_text(render(ops, notes))
    examples = {op.name: {"method": op.method, "template": op.template, "options": op.example} for op in ops}
    target = ROOT / "tests" / "fixtures" / "product_coupon_examples.json"
    target.write_text(json.dumps(examples, ensure_ascii=False, indent=1) + "\n")
    print(f"{len(ops)} operations, {len(notes)} notifications", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
