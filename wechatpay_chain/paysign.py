"""Client-side payment parameters: what the front end needs after a JSAPI/mini-program or APP prepay.

These are not requests to WeChat Pay; the merchant signs them (SHA256withRSA, like request signing) so
that WeChat's client can trust the prepay id it is handed. The field names and their case are exactly
those ``wx.requestPayment`` / ``WXPayEntryActivity`` expect, so the dicts can be returned as JSON as-is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import crypto

__all__ = ["app_message", "app_params", "jsapi_message", "jsapi_params"]


def jsapi_message(appid: str, timestamp: str, nonce: str, package: str) -> bytes:
    """``appId\\ntimeStamp\\nnonceStr\\npackage\\n``, what a JSAPI/mini-program ``paySign`` covers."""
    return f"{appid}\n{timestamp}\n{nonce}\n{package}\n".encode()


def app_message(appid: str, timestamp: str, nonce: str, prepay_id: str) -> bytes:
    """``appid\\ntimestamp\\nnoncestr\\nprepayid\\n``, what an APP payment ``sign`` covers (bare prepay id)."""
    return f"{appid}\n{timestamp}\n{nonce}\n{prepay_id}\n".encode()


def _check(name: str, value: str) -> str:
    if not isinstance(value, str) or not value or "\n" in value:
        raise ValueError(f"{name} must be a non-empty single-line string, got {value!r:.60}")
    return value


def _prepay_id(value: object) -> str:
    """The bare prepay id from ``"wx…"``, ``"prepay_id=wx…"`` (the JSAPI package) or the prepay answer dict."""
    if isinstance(value, Mapping):
        if "prepay_id" not in value:
            raise ValueError(f"prepay_id: the mapping given has no 'prepay_id' member (keys: {sorted(value)[:8]})")
        value = value["prepay_id"]
    if not isinstance(value, str):
        raise ValueError(f"prepay_id must be the id string WeChat Pay returned, not {type(value).__name__}")
    text = _check("prepay_id", value)
    bare = text.removeprefix("prepay_id=")
    if not bare or "=" in bare or "&" in bare:
        raise ValueError(f"prepay_id must be the id WeChat Pay returned (wx…), got {text!r:.60}")
    return bare


def jsapi_params(
    appid: str,
    prepay_id: str | Mapping[str, Any],
    private_key: crypto.KeyInput,
    *,
    timestamp: int | str | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """Parameters for ``WeixinJSBridge.invoke('getBrandWCPayRequest')`` / ``wx.requestPayment``.

    ``prepay_id`` is the id returned by ``/v3/pay/transactions/jsapi`` (bare or already as ``prepay_id=wx…``,
    or that answer's dict); ``private_key`` is the key object or anything :func:`crypto.load_private_key` takes.
    """
    _check("appid", appid)
    bare = _prepay_id(prepay_id)
    ts = str(crypto.timestamp() if timestamp is None else timestamp)
    nc = _check("nonce", nonce) if nonce is not None else crypto.nonce()
    package = f"prepay_id={bare}"
    return {
        "appId": appid,
        "timeStamp": ts,
        "nonceStr": nc,
        "package": package,
        "signType": "RSA",
        "paySign": crypto.rsa_sign(jsapi_message(appid, ts, nc, package), private_key),
    }


def app_params(
    appid: str,
    mchid: str,
    prepay_id: str | Mapping[str, Any],
    private_key: crypto.KeyInput,
    *,
    timestamp: int | str | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """Parameters for the APP SDK's ``PayReq`` (``partnerid`` is the merchant id, ``package`` is fixed).

    ``prepay_id`` as for :func:`jsapi_params` (the APP form carries it bare).
    """
    _check("appid", appid)
    _check("mchid", mchid)
    prepay_id = _prepay_id(prepay_id)
    ts = str(crypto.timestamp() if timestamp is None else timestamp)
    nc = _check("nonce", nonce) if nonce is not None else crypto.nonce()
    return {
        "appid": appid,
        "partnerid": mchid,
        "prepayid": prepay_id,
        "package": "Sign=WXPay",
        "noncestr": nc,
        "timestamp": ts,
        "sign": crypto.rsa_sign(app_message(appid, ts, nc, prepay_id), private_key),
    }
