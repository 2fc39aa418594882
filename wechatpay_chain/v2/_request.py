"""Route ``v2/…`` chain calls to the XML protocol: build and sign the document, check the answer.

Called by ``Client._prepare`` once the template is expanded. The result is an ordinary ``Prepared`` with
``v2=True`` (sent without the APIv3 middleware, so no Authorization header and no APIv3 verification) and a
``finish`` step that parses, verifies and raises :class:`~wechatpay_chain.errors.APIv2Error`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import yarl

from .. import _config, crypto
from .._options import build_query, check_headers
from .._response import Response
from .._template import Template
from ..errors import APIv2Error, ConfigError, TemplateError, VerificationError
from ..retry import is_idempotent_v2
from ._sign import MD5, sign, verify
from ._xml import XMLError, parse_xml, to_xml

if TYPE_CHECKING:
    from .._client import Client
    from .._prepare import Prepared

__all__ = ["SIGNLESS", "finish_v2", "prepare_v2"]

#: Endpoints whose answers carry no ``sign`` (wechatpay-php ``$noneSignatureRespond``, protocol.md §9.3).
SIGNLESS = frozenset(
    {
        "/mchrisk/querymchrisk",
        "/mchrisk/setmchriskcallback",
        "/mchrisk/syncmchriskresult",
        "/mmpaymkttransfers/gethbinfo",
        "/mmpaymkttransfers/gettransferinfo",
        "/mmpaymkttransfers/pay_bank",
        "/mmpaymkttransfers/promotion/paywwsptrans2pocket",
        "/mmpaymkttransfers/promotion/querywwsptrans2pocket",
        "/mmpaymkttransfers/promotion/transfers",
        "/mmpaymkttransfers/query_bank",
        "/mmpaymkttransfers/sendgroupredpack",
        "/mmpaymkttransfers/sendminiprogramhb",
        "/mmpaymkttransfers/sendredpack",
        "/papay/entrustweb",
        "/papay/h5entrustweb",
        "/papay/partner/entrustweb",
        "/papay/partner/h5entrustweb",
        "/pay/downloadbill",
        "/pay/downloadfundflow",
        "/payitil/report",
        "/risk/getpublickey",
        "/risk/getviolation",
        "/secapi/mch/submchmanage",
        "/xdc/apiv2getsignkey/sign/getsignkey",
    }
)
#: Answers that are the file itself on success (XML only on failure).
FILE_ANSWERS = ("/pay/downloadbill", "/pay/downloadfundflow")
_MCH_FIELDS = ("mch_id", "mchid", "combine_mch_id")
_V2_HEADERS = {"Content-Type": "text/xml; charset=utf-8", "Accept": "text/xml, text/plain, application/x-gzip"}


def prepare_v2(client: Client, method: str, template: Template, path: str, opts: dict[str, Any]) -> Prepared:
    """Validate, sign and serialise an APIv2 call; every problem is raised here, before any I/O."""
    from .._prepare import Prepared

    key = client.apiv2_key
    if key is None:
        raise ConfigError("apiv2_key", f"{template.source!r} is an APIv2 call: create the Client with apiv2_key=...")
    for name in ("json", "body", "validate"):
        if name in opts:
            raise TemplateError(f"option {name!r} is APIv3-only; APIv2 calls take xml={{...}}")
    data = _document(method, opts)
    mch = next((data[f] for f in _MCH_FIELDS if f in data), None)  # as PHP: the first of them present
    if mch is not None and str(mch) != client.mchid:
        raise TemplateError(f"mch_id {mch!r} differs from the client's mchid {client.mchid!r}")
    if opts.get("nonceless") is None:  # PHP's isset(): present and not null, whatever its value
        data.setdefault("nonce_str", crypto.nonce(32))
    data["sign"] = sign(data, key)  # in place: a caller's stale sign is replaced where it stood
    base, extra = _config.request_base(opts, client.base_url)
    full = base + path
    headers = dict(_V2_HEADERS)
    headers.update(check_headers(opts["headers"]) if "headers" in opts else {})
    body = b""
    if method == "GET":
        full += ("&" if "?" in full else "?") + build_query(data)
    else:
        body = to_xml(data)
        if opts.get("query"):
            full += ("&" if "?" in full else "?") + build_query(opts["query"])
    url = yarl.URL(full, encoded=True)
    _config.check_origin(url, client._hosts, extra)
    ssl_context = None
    if opts.get("security"):
        tls = client._merchant_tls
        if tls is None:
            raise ConfigError(
                "merchant_cert", f"{template.source!r} asks for security=True: give merchant_cert or merchant_pkcs12"
            )
        if url.scheme != "https":
            raise TemplateError("security=True needs an https:// base URL")
        ssl_context = tls.ssl_context
    timeout = _config.make_timeout(opts["timeout"], "timeout") if "timeout" in opts else None
    answer_path = "/" + path.split("?", 1)[0]
    algorithm = str(data.get("sign_type") or MD5)  # the answer must be signed the same way (never by its length)
    return Prepared(
        method=method,
        template=template,
        url=url,
        body=body,
        headers=headers,
        timeout=timeout,
        extra_hosts=extra,
        idempotent=is_idempotent_v2(answer_path, data, opts.get("idempotent")),
        v2=True,
        ssl=ssl_context,
        finish=lambda response: finish_v2(response, key, answer_path, algorithm),
    )


def _document(method: str, opts: Mapping[str, Any]) -> dict[str, Any]:
    """The fields to sign: ``xml`` (POST), or for GET the ``query`` (wechatpay-php 1.4.12) or ``xml``."""
    name = "query" if method == "GET" and opts.get("query") is not None else "xml"
    if method == "GET" and name == "query" and opts.get("xml") is not None:
        raise TemplateError("an APIv2 GET sends its fields in the query: give query={...} or xml={...}, not both")
    document = opts.get(name)
    if document is None:
        document = {}
    if isinstance(document, list | tuple) and name == "query":
        document = dict(document)
    if not isinstance(document, Mapping):
        raise TemplateError(f"{name} must be a mapping of field → value, not {type(document).__name__}")
    return {k: v for k, v in document.items() if v is not None}


def finish_v2(response: Response, key: str, path: str, sign_type: str = MD5) -> Response:
    """Check a 2xx APIv2 answer: communication status, then ``sign`` (with the request's ``sign_type``, over a
    flat document only), then business status."""
    if path in FILE_ANSWERS and not response.body.lstrip().startswith(b"<"):
        return response  # the bill itself; its integrity is the caller's hash check
    try:
        data = parse_xml(response.body)
    except XMLError as exc:
        raise VerificationError(VerificationError.BAD_BODY, f"APIv2 answer: {exc}", response.request_id) from None
    if data.get("return_code") != "SUCCESS":
        # WeChat does not sign communication failures; report them, trust nothing in them.
        raise APIv2Error.from_document(response.status, data, response.body)
    if path not in SIGNLESS and not verify(data, key, sign_type):
        reason = "missing" if not data.get("sign") else "does not match"
        raise VerificationError(
            VerificationError.BAD_SIGNATURE, f"APIv2 answer sign {reason} (recomputed with the APIv2 key)"
        )
    if data.get("result_code", "SUCCESS") != "SUCCESS":
        raise APIv2Error.from_document(response.status, data, response.body)
    return response
