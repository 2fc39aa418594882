"""Turn one verb call into a :class:`Prepared` request: everything that can fail does so here, before I/O.

Split options → expand the template → resolve the base → encode the query → check the host → serialise the JSON
once (or take the raw/multipart body) → decide idempotency.
"""

from __future__ import annotations

import functools
import os
import ssl
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson
import yarl

from . import _config, _jsonbody, sensitive
from ._options import build_query, check_guzzle_option, check_headers, split_options
from ._response import Response
from ._template import Template
from .errors import TemplateError
from .media import Media
from .middleware import response_rule
from .retry import is_idempotent

if TYPE_CHECKING:
    from ._client import Client

__all__ = ["Prepared", "prepare"]


@dataclass(slots=True)
class Prepared:
    """A request ready to send: everything validated, the body serialised once."""

    method: str
    template: Template
    url: yarl.URL
    body: bytes
    headers: dict[str, str]
    timeout: aiohttp.ClientTimeout | None
    extra_hosts: frozenset[tuple[str, str, int]]  # origins allowed besides the client's
    idempotent: bool
    sign_body: bytes | None = None
    # Files and APIv2 (issue 5): a fresh streamed body per attempt, one-shot bodies, the XML protocol.
    payload: Callable[[], Any] | None = None
    resendable: bool = True
    v2: bool = False
    ssl: Any = None
    finish: Callable[[Response], Response] | None = None
    # Issue 4: False only for the certificate download, which its manager verifies itself.
    verify: bool = True
    # How a 2xx answer is checked ("verify", "unsigned" file, "statement"), worked out once per request.
    rule: str | None = None
    # Guzzle request options (issue 14): a 4xx/5xx answer returned instead of raised; where to write the answer.
    http_errors: bool = True
    sink: Any = None
    debug: Any = None  # a text stream that gets one line per attempt


def prepare(client: Client, method: str, template: Template, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Prepared:
    """Validate one call and build its request (APIv2 paths are handed to :mod:`.v2`)."""
    values, opts = split_options(template, args, kwargs)
    req = _build(client, method, template, values, opts)
    defaults = client._call_defaults
    if defaults is not None:  # Guzzle options of the Builder.factory configuration; the call's own win
        opts = {**defaults, **opts}
    return req if _GUZZLE_KEPT.isdisjoint(opts) else _guzzle(req, opts)


_GUZZLE_KEPT = frozenset({"sink", "http_errors", "allow_redirects", "verify", "debug"})


@functools.lru_cache(maxsize=8)
def _ca_context(cafile: str) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as exc:
        raise TemplateError(f"verify: cannot use {cafile!r} as a CA bundle ({exc})") from None


def _guzzle(req: Prepared, opts: dict[str, Any]) -> Prepared:
    """Guzzle request options that keep their meaning: ``sink``, ``http_errors``, ``verify``, ``allow_redirects``,
    ``debug``."""
    for key in ("allow_redirects", "verify", "http_errors"):
        if key in opts:
            check_guzzle_option(key, opts[key])
    cafile = opts.get("verify")
    if isinstance(cafile, str):
        if req.ssl is not None:
            raise TemplateError("verify='...' cannot be combined with security=True (the merchant TLS context)")
        req.ssl = _ca_context(cafile)
    req.http_errors = opts.get("http_errors", True)
    debug = opts.get("debug")
    if debug is True:
        req.debug = sys.stderr
    elif callable(getattr(debug, "write", None)):
        req.debug = debug
    elif debug not in (None, False):
        raise TemplateError(f"debug must be True, False or a text stream (with write()), not {type(debug).__name__}")
    sink = opts.get("sink")
    if sink is not None:
        if isinstance(sink, os.PathLike):
            sink = os.fspath(sink)
        if not isinstance(sink, str) and not callable(getattr(sink, "write", None)):
            raise TemplateError(f"sink must be a file path or a binary file object, not {type(sink).__name__}")
        req.sink = sink
    return req


def _build(client: Client, method: str, template: Template, values: dict[str, Any], opts: dict[str, Any]) -> Prepared:
    path = template.expand(values)
    if path.startswith("v2/"):
        from .v2._request import prepare_v2

        return prepare_v2(client, method, template, path[3:], opts)
    base, extra = _config.request_base(opts, client.base_url)
    if path.startswith(("https://", "http://")):
        full = path
        if "@" in path.split("/", 3)[2]:  # "https://api.mch.weixin.qq.com@example.com/" names example.com
            raise TemplateError(f"{path.split('@')[-1][:80]!r}: a request URL must not carry user information")
    elif path.startswith("/"):
        origin = yarl.URL(base).origin()
        full = str(origin) + path
    else:
        full = base + path
    query = opts.get("query")
    if query:
        if opts.get("validate", client.validate):
            from .schema import validate_query

            validate_query(method, template.source, query)
        qs = build_query(query)
        if qs:
            full += ("&" if "?" in full else "?") + qs
    url = yarl.URL(full, encoded=True)
    _config.check_origin(url, client._hosts, extra)
    headers = check_headers(opts["headers"]) if "headers" in opts else {}
    body = b""
    payload = opts.get("json")
    if payload is not None:
        if "body" in opts:
            raise TemplateError("give either json or body, not both")
        body = _jsonbody.encode(payload)
        if opts.get("validate", client.validate):
            from .schema import validate_request

            # What is sent, as WeChat Pay will read it (a datetime is a string there, an Enum its value).
            validate_request(method, template.source, payload if _jsonbody.plain(payload) else orjson.loads(body))
        headers.setdefault("Content-Type", "application/json")
        sensitive.apply_serial(payload, headers)  # Wechatpay-Serial of encrypted fields (issue 4)
    elif "body" in opts:
        raw = opts["body"]
        if isinstance(raw, Media):
            # Multipart upload: the signature covers only the meta JSON; the file is streamed per attempt.
            # Uploads are content-addressed (same file → same media_id), so retrying one is safe.
            if opts.get("validate", client.validate):
                from .schema import validate_request

                validate_request(method, template.source, orjson.loads(raw.meta))  # the meta, as the table says
            headers["Content-Type"] = raw.multipart_content_type
            return Prepared(
                method=method,
                template=template,
                url=url,
                body=b"",
                headers=headers,
                timeout=_config.make_timeout(opts["timeout"], "timeout") if "timeout" in opts else None,
                extra_hosts=extra,
                idempotent=opts.get("idempotent", True) is not False,
                sign_body=raw.meta,
                payload=raw.payload,
                resendable=raw.resendable,
                rule=response_rule(method, url.raw_path),
            )
        if isinstance(raw, str):
            body = raw.encode()
        elif isinstance(raw, bytes | bytearray):
            body = bytes(raw)
        else:
            raise TemplateError(f"body must be bytes or str, not {type(raw).__name__}")
        if body and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json"
    timeout = _config.make_timeout(opts["timeout"], "timeout") if "timeout" in opts else None
    marked = opts.get("idempotent")
    return Prepared(
        method=method,
        template=template,
        url=url,
        body=body,
        headers=headers,
        timeout=timeout,
        extra_hosts=extra,
        idempotent=is_idempotent(method, template.names, payload, marked),
        rule=response_rule(method, url.raw_path),
    )
