"""Client-side payment parameters: what the front end needs after a JSAPI/mini-program or APP prepay.

These are not requests to WeChat Pay; the merchant signs them (SHA256withRSA, like request signing) so
that WeChat's client can trust the prepay id it is handed. The field names and their case are exactly
those ``wx.requestPayment`` / ``WXPayEntryActivity`` expect, so the dicts can be returned as JSON as-is.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import rsa

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


def jsapi_params(
    appid: str,
    prepay_id: str,
    private_key: rsa.RSAPrivateKey,
    *,
    timestamp: int | str | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """Parameters for ``WeixinJSBridge.invoke('getBrandWCPayRequest')`` / ``wx.requestPayment``.

    ``prepay_id`` is the bare id returned by ``/v3/pay/transactions/jsapi`` (``prepay_id=`` is added here).
    """
    _check("appid", appid)
    _check("prepay_id", prepay_id)
    ts = str(crypto.timestamp() if timestamp is None else timestamp)
    nc = _check("nonce", nonce) if nonce is not None else crypto.nonce()
    package = f"prepay_id={prepay_id}"
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
    prepay_id: str,
    private_key: rsa.RSAPrivateKey,
    *,
    timestamp: int | str | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """Parameters for the APP SDK's ``PayReq`` (``partnerid`` is the merchant id, ``package`` is fixed)."""
    _check("appid", appid)
    _check("mchid", mchid)
    _check("prepay_id", prepay_id)
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
