"""Generate :mod:`wechatpay_chain.types` from the specs, so the TypedDicts cannot drift from them.

``python -m wechatpay_chain._schemas._gen > wechatpay_chain/types.py``; a test compares the output with the
file. Objects with the same member names share one TypedDict; a member is ``Required`` only if it is required
wherever that object appears.
"""

from __future__ import annotations

import keyword
from dataclasses import replace

from . import payments as ps
from . import product_coupon_pages as pages
from .spec import Field


def _camel_op(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _roots() -> tuple[tuple[str, Field, str], ...]:
    out: list[tuple[str, Field, str]] = []
    for op in pages.OPERATIONS:
        base = _camel_op(op.name)
        where = f"{op.method} {op.template.removeprefix('v3/marketing/partner/product-coupon/')}"
        if op.request is not None:
            out.append((base + ("Meta" if op.multipart else "Request"), op.request, f"{op.title}: request body"))
        if op.query is not None:
            out.append((base + "Query", op.query, f"{op.title}: query ({where})"[:90]))
        out.append((base + "Response", op.response, f"{op.title}: response body ({where})"[:90]))
    for event, spec in pages.NOTIFICATIONS.items():
        out.append((_camel_op(event.split(".")[-1].lower()) + "Notification", spec, f"{event}: decrypted resource"))
    out.extend(PAYMENT_ROOTS)
    return tuple(out)


#: The payment family's bodies and answers (``_schemas/payments.py``).
PAYMENT_ROOTS: tuple[tuple[str, Field, str], ...] = (
    ("JsapiOrderRequest", ps.JSAPI, "JSAPI order request body (pay/transactions/jsapi)"),
    ("NativeOrderRequest", ps.NATIVE, "Native order request body (pay/transactions/native)"),
    ("AppOrderRequest", ps.APP, "App order request body (pay/transactions/app)"),
    ("H5OrderRequest", ps.H5, "H5 order request body (pay/transactions/h5)"),
    ("PartnerJsapiOrderRequest", ps.PARTNER_JSAPI, "service-provider JSAPI order request body"),
    ("PartnerNativeOrderRequest", ps.PARTNER_NATIVE, "service-provider Native order request body"),
    ("PartnerAppOrderRequest", ps.PARTNER_APP, "service-provider App order request body"),
    ("PartnerH5OrderRequest", ps.PARTNER_H5, "service-provider H5 order request body"),
    ("Transaction", ps.ORDER, "order query answer (by transaction id or out_trade_no)"),
    ("PartnerTransaction", ps.PARTNER_ORDER, "service-provider order query answer"),
    ("RefundRequest", ps.REFUND_REQUEST, "refund request body (refund/domestic/refunds)"),
    ("Refund", ps.REFUND, "refund answer (apply and query)"),
    ("TransactionResource", ps.TRANSACTION_RESOURCE, "TRANSACTION.SUCCESS: decrypted resource"),
    ("RefundResource", ps.REFUND_RESOURCE, "REFUND.SUCCESS / ABNORMAL / CLOSED: decrypted resource"),
)


ROOTS = _roots()
#: Names for nested objects whose member names differ from another object of the same field name.
OVERRIDES: dict[str, str] = {
    "CreateProductCouponRequest.stock": "NewStock",
}
_ENUM_NAMES: dict[tuple[str, ...], str] = {
    ps.TRADE_STATES: "TradeState",
    ("SUCCESS",): "NotifiedTradeState",
    ("SUCCESS", "CLOSED", "ABNORMAL"): "RefundOutcome",
    ps.REFUND_STATUSES: "RefundStatus",
    ("CNY",): "Currency",
    ps.ID_TYPES: "IdentityType",
    ("AVAILABLE", "UNAVAILABLE"): "RefundFromAccount",
    ("AVAILABLE", "UNSETTLED"): "RefundFundsAccount",
}
_PY = {"string": "str", "integer": "int", "boolean": "bool"}


def _camel(name: str) -> str:
    if name.endswith("_list"):
        name = name[: -len("_list")]
    return "".join(part.capitalize() for part in name.split("_"))


def _shape(spec: Field) -> tuple[object, ...]:
    """What makes two objects the same TypedDict: member names and, recursively, their shapes."""
    if spec.type == "object":
        return tuple((k, _shape(v)) for k, v in (spec.fields or {}).items())
    if spec.type == "array" and spec.items is not None:
        return ("[]", _shape(spec.items))
    return (spec.type, spec.enum)


class _Registry:
    def __init__(self) -> None:
        self.keys: dict[str, tuple[object, ...]] = {}
        self.members: dict[str, dict[str, str]] = {}
        self.required: dict[str, set[str]] = {}
        self.docs: dict[str, str] = {}
        self.order: list[str] = []
        self.enums: dict[str, tuple[str, ...]] = {}
        self.reserved = {name: _shape(spec) for name, spec, _ in ROOTS}

    def add(self, name: str, spec: Field, where: str, doc: str = "", parent: str = "") -> str:
        fields = dict(spec.fields or {})
        keys = _shape(spec)
        if self.keys.get(name, keys) != keys or self.reserved.get(name, keys) != keys:
            name = parent + name  # same field name, different members: qualify by the enclosing type
            base, n = name, 2
            while (self.keys.get(name, keys) != keys or self.reserved.get(name, keys) != keys):
                name, n = f"{base}{n}", n + 1  # still taken: number it
        members = {key: self.annotation(sub, f"{where}.{key}", key, name) for key, sub in fields.items()}
        required = {key for key, sub in fields.items() if sub.required}
        if name not in self.keys:
            self.keys[name] = keys
            self.members[name] = members
            self.required[name] = required
            self.docs[name] = doc or spec.doc
            self.order.append(name)
        else:
            self.required[name] &= required
        return name

    def annotation(self, spec: Field, where: str, key: str, parent: str) -> str:
        if spec.type == "object":
            return self.add(OVERRIDES.get(where, _camel(key)), replace(spec, required=False), where, parent=parent)
        if spec.type == "array":
            assert spec.items is not None  # noqa: S101 - specs always give items
            return f"list[{self.annotation(spec.items, where, key, parent)}]"
        if spec.enum:
            alias = _ENUM_NAMES.get(spec.enum) or _camel(key)
            base, n = alias, 2
            while self.enums.get(alias, spec.enum) != spec.enum:
                alias, n = f"{base}{n}", n + 1  # same member name, other values: number it
            self.enums[alias] = spec.enum
            return alias
        return _PY[spec.type]


def render() -> str:
    reg = _Registry()
    first: dict[tuple[object, ...], str] = {}
    aliases: dict[str, str] = {}
    for name, spec, doc in ROOTS:
        shape = (_shape(spec), tuple(sorted(k for k, v in (spec.fields or {}).items() if v.required)))
        if shape in first:  # same body as an earlier operation's (e.g. every user-coupon answer): an alias
            aliases[name] = first[shape]
            continue
        first[shape] = name
        reg.add(name, spec, name, doc)
    out = [
        '"""TypedDicts for the bundled API bodies (generated by ``wechatpay_chain._schemas._gen``; do not edit).',
        "",
        "Annotate payloads with them so an IDE completes ``stock_send_rule`` and mypy flags a misspelt key::",
        "",
        "    body: AddStockRequest = {\"brand_id\": \"120344\", \"out_request_no\": \"r-0001\", \"stock\": {...}}",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "import sys",
        "from typing import Literal",
        "",
        "if sys.version_info >= (3, 11):",
        "    from typing import NotRequired, Required, TypedDict",
        "else:  # pragma: no cover",
        "    from typing_extensions import NotRequired, Required, TypedDict",
        "",
    ]
    lines = out
    lines.append("__all__ = [")
    lines.extend(f'    "{name}",' for name in sorted([*reg.order, *reg.enums, *aliases]))
    lines.append("]")
    lines.append("")
    for alias, values in sorted(reg.enums.items()):
        one = f"{alias} = Literal[" + ", ".join(f'"{v}"' for v in values) + "]"
        if len(one) <= 110:
            lines.append(one)
        else:
            lines.append(f"{alias} = Literal[")
            lines.extend(f'    "{v}",' for v in values)
            lines.append("]")
    for name in reversed(reg.order):
        lines += ["", ""]
        doc = reg.docs[name].replace('"', "'")
        members = {
            key: f"{'Required' if key in reg.required[name] else 'NotRequired'}[{ann}]"
            for key, ann in reg.members[name].items()
        }
        if any(keyword.iskeyword(key) for key in members):  # e.g. a refund's ``amount.from``
            lines.append(f"#: {doc or name}.")
            lines.append(f'{name} = TypedDict("{name}", {{')
            lines.extend(f'    "{key}": "{ann}",' for key, ann in members.items())  # forward references
            lines.append("}, total=False)")
            continue
        lines.append(f"class {name}(TypedDict, total=False):")
        lines.append(f'    """{doc or name}."""')
        lines.append("")
        lines.extend(f"    {key}: {ann}" for key, ann in members.items())
    if aliases:
        lines += ["", ""]
        lines.extend(f"{alias} = {target}" for alias, target in aliases.items())
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")
