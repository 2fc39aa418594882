"""Call options: split a PHP-style options mapping into placeholder values and request settings.

``post({"product_coupon_id": "1", "json": {...}})`` ≡ ``post(product_coupon_id="1", json={...})``. Keys
that are neither options nor placeholders of the template are typos and raise before any I/O.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from ._template import Template, encode, format_value
from .errors import TemplateError

__all__ = [
    "GUZZLE_REFUSED",
    "OPTION_KEYS",
    "build_query",
    "check_guzzle_option",
    "check_headers",
    "closest",
    "split_options",
]

#: Keys a verb understands besides the template's placeholders.
OPTION_KEYS = frozenset(
    {
        "json",  # JSON body: serialised once with orjson, signed and sent as those bytes
        "query",  # mapping (or pairs) appended as the query string, in order
        "headers",  # extra request headers (e.g. Wechatpay-Serial)
        "body",  # raw body bytes/str, sent and signed as given
        "base_uri",  # per-request base URL (apihk, /hk/ prefix, ...)
        "timeout",  # per-request timeout in seconds or aiohttp.ClientTimeout
        "validate",  # check the JSON body against the bundled schema before sending
        "idempotent",  # mark a write as safe to retry (it carries a merchant request number)
        "xml",  # APIv2: the request document
        "nonceless",  # APIv2: do not add nonce_str
        "security",  # APIv2: mutual TLS with the merchant certificate
        # Guzzle request options of the wechatpay-php docs that keep their meaning here:
        "sink",  # write the answer body to this path or binary file (streamed for APIv3)
        "http_errors",  # False: a 4xx/5xx answer is returned as the Response instead of raised
        "allow_redirects",  # only False (the client never follows redirects)
        "verify",  # True, or a CA bundle path for this call; False is refused
        "debug",  # True (stderr) or a text stream: one line per attempt (method, URL, status, time, Request-ID)
    }
)

#: Guzzle options (request or client) that have no meaning here, with what to use in Python instead.
GUZZLE_REFUSED = {
    "handler": "a Guzzle HandlerStack has no Python form: use hooks=[callable] to observe attempts, signer=... "
    "for a remote signer, or session=aiohttp.ClientSession(middlewares=...) for your own middleware",
    "proxy": "give the Client session=aiohttp.ClientSession(proxy='http://...') (its own middleware still signs)",
    "cert": "give the merchant certificate once: Builder.factory({..., 'merchant': {'cert': ..., 'key': ...}}) "
    "or Client(merchant_cert=(cert, key)), then security=True on the APIv2 call",
    "ssl_key": "give the merchant certificate once: Builder.factory({..., 'merchant': {'cert': ..., 'key': ...}}) "
    "or Client(merchant_cert=(cert, key)), then security=True on the APIv2 call",
    "connect_timeout": "give timeout=aiohttp.ClientTimeout(total=..., sock_connect=...)",
    "stream": "use client.stream(...) / client.download(...), or sink='/path/file' to write the answer to a file",
}


def check_guzzle_option(key: str, value: Any) -> None:
    """Refuse a value of a kept Guzzle option that has no meaning here, naming what to do instead."""
    if key == "allow_redirects" and value is not False:
        raise TemplateError(
            "allow_redirects: only False is accepted; the client never follows a redirect (the next hop would get "
            "a request signed for another URL), which is what allow_redirects=False means in Guzzle"
        )
    if key == "verify" and value is not True and not isinstance(value, str):
        raise TemplateError(
            "verify: TLS certificate checks cannot be turned off for a payment API; give verify='/path/ca.pem' "
            "to trust a private CA for this call"
        )
    if key == "http_errors" and not isinstance(value, bool):
        raise TemplateError(f"http_errors must be True or False, not {type(value).__name__}")


def split_options(
    template: Template, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return ``(placeholder values, options)``; unknown or duplicated keys are a :class:`TemplateError`."""
    options = args[0] if args else None
    if options is None:
        merged: Mapping[str, Any] = kwargs
    elif not isinstance(options, Mapping):
        raise TemplateError(
            f"options must be a mapping (the PHP options array), not {type(options).__name__}"
        )
    elif kwargs:
        clash = sorted(set(options) & set(kwargs))
        if clash:
            raise TemplateError(f"option {clash[0]!r} given both in the mapping and as a keyword")
        merged = {**options, **kwargs}
    else:
        merged = options
    names = template.names
    values: dict[str, Any] = {}
    opts: dict[str, Any] = {}
    for key, value in merged.items():
        if key in names:
            values[key] = value
        elif key in OPTION_KEYS:
            opts[key] = value
        else:
            if key in GUZZLE_REFUSED:
                raise TemplateError(f"option {key!r} (Guzzle) has no equivalent here: {GUZZLE_REFUSED[key]}")
            if isinstance(options, Mapping) and key in options and not any(_near(k, names) for k in options):
                raise TemplateError(  # post(body) where PHP's post(['json' => body]) was meant
                    f"unknown option {key!r} for {template.source!r}: the positional mapping is the options array "
                    "(PHP's ['json' => [...]]), not the request body: post(json=body) or post({'json': body})"
                )
            raise unknown_option(key, template)
    return values, opts


def _spelling(key: str) -> str:
    """Fold case, dashes and camelCase so ``outTradeNo``/``out-trade-no`` meet ``out_trade_no``."""
    return "".join(c for c in key if c.isalnum()).lower()


def closest(key: str, candidates: Iterable[str]) -> str | None:
    """The candidate ``key`` was probably meant as: the same ignoring case, then ignoring ``_``/``-`` too, else
    difflib's best."""
    ordered = sorted(candidates)
    lowered = {name.lower(): name for name in ordered}
    folded = {_spelling(name): name for name in ordered}
    return (
        lowered.get(key.lower())
        or folded.get(_spelling(key))
        or next(iter(difflib.get_close_matches(key, ordered, n=1, cutoff=0.7)), None)
    )


def _near(key: object, names: Iterable[str]) -> bool:
    """Whether ``key`` is, or looks like a typo of, a placeholder or an option."""
    return isinstance(key, str) and (key in _IDIOMS or closest(key, [*names, *OPTION_KEYS]) is not None)


#: requests/aiohttp habits → the option meant here.
_IDIOMS = {"data": "json", "params": "query", "content": "body", "files": "body"}


def unknown_option(key: object, template: Template) -> TemplateError:
    """A :class:`TemplateError` naming the unknown key, with the closest placeholder or option (difflib)."""
    names = sorted(template.names)
    if not isinstance(key, str):
        return TemplateError(f"option names must be strings, got {key!r} for {template.source!r}")
    close = _IDIOMS.get(key) or closest(key, [*names, *OPTION_KEYS])
    hint = ""
    if close is not None:
        hint = f"did you mean the {'placeholder' if close in template.names else 'option'} {close!r}? "
    valid = ", ".join(names) or "(none)"
    return TemplateError(
        f"unknown option {key!r} for {template.source!r}: {hint}placeholders: {valid}; "
        f"options: {', '.join(sorted(OPTION_KEYS))}"
    )


def _pairs(query: Any) -> Iterable[tuple[str, Any]]:
    if isinstance(query, Mapping):
        return query.items()
    if isinstance(query, list | tuple):
        return query
    raise TemplateError(f"query must be a mapping or a list of pairs, not {type(query).__name__}")


def build_query(query: Any) -> str:
    """Encode a query strictly (RFC 3986, space as %20). Lists repeat the key; ``None`` values are left out."""
    if isinstance(query, str):
        raise TemplateError("query must be a mapping or a list of pairs; a string would be sent unencoded")
    parts: list[str] = []
    for key, value in _pairs(query):
        if value is None:
            continue
        name = encode(key) if isinstance(key, str) else encode(str(key))
        if isinstance(value, list | tuple):
            parts.extend(f"{name}={encode(format_value(name, item))}" for item in value if item is not None)
        elif isinstance(value, str):
            parts.append(f"{name}={encode(value)}")
        else:
            parts.append(f"{name}={encode(format_value(name, value))}")
    return "&".join(parts)


def check_headers(headers: Any) -> dict[str, str]:
    """Validate caller headers: strings only, no CR/LF (header injection), no Authorization override."""
    if not isinstance(headers, Mapping):
        raise TemplateError(f"headers must be a mapping, not {type(headers).__name__}")
    out: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not isinstance(value, str | int):
            raise TemplateError(f"header {name!r} must map a string to a string")
        text = str(value)
        if any(c in name or c in text for c in "\r\n\0") or not name:
            raise TemplateError(f"header {name!r} contains a line break or NUL")
        if name.lower() == "authorization":
            raise TemplateError("the Authorization header is computed by the signer and cannot be set")
        out[name] = text
    return out
