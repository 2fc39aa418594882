"""Constructor validation: every problem is a :class:`ConfigError` naming the field, raised before any I/O."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import yarl
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from . import crypto
from .errors import ConfigError, TemplateError
from .middleware import WECHATPAY_HOSTS, Origin, origin_of

__all__ = [
    "DEFAULT_BASE_URL",
    "Settings",
    "check_base_url",
    "check_origin",
    "load_certs",
    "load_key",
    "make_timeout",
]

DEFAULT_BASE_URL = "https://api.mch.weixin.qq.com/"
_MCHID = re.compile(r"^[0-9]{1,32}$")
_SERIAL = re.compile(r"^[0-9A-Fa-f]{1,64}$")


@dataclass(frozen=True, slots=True)
class Settings:
    """Validated client settings. Key objects never appear in the repr."""

    mchid: str
    serial: str | None
    private_key: rsa.RSAPrivateKey | None = field(repr=False)
    certs: dict[str, rsa.RSAPublicKey] = field(repr=False)
    base_url: str
    apiv3_key: str | None = field(repr=False, default=None)
    apiv2_key: str | None = field(repr=False, default=None)


def check_mchid(mchid: Any) -> str:
    if isinstance(mchid, int) and not isinstance(mchid, bool):
        mchid = str(mchid)
    if not isinstance(mchid, str) or not mchid:
        raise ConfigError("mchid", f"must be the merchant id as a string of digits, got {type(mchid).__name__}")
    if not _MCHID.match(mchid):
        raise ConfigError("mchid", f"must be digits only, got {mchid[:40]!r}")
    return mchid


def check_serial(serial: Any) -> str:
    if not isinstance(serial, str) or not serial:
        raise ConfigError(
            "serial", f"must be the merchant API certificate serial (hex string), got {type(serial).__name__}"
        )
    if not _SERIAL.match(serial):
        hint = ""
        if serial.lower().startswith(("serial=", "0x")):
            hint = " (drop the 'serial=' / '0x' prefix)"
        elif serial.startswith("PUB_KEY_ID_"):
            hint = " (that is the WeChat Pay public key id: it goes in certs, serial is the merchant certificate's)"
        raise ConfigError(
            "serial", f"must be hexadecimal (as shown by the merchant platform), got {serial[:70]!r}{hint}"
        )
    return serial.upper()


def load_key(private_key: Any, passphrase: str | bytes | None) -> rsa.RSAPrivateKey:
    if private_key is None or private_key == "":
        raise ConfigError("private_key", "is required for APIv3 (file:///path/apiclient_key.pem, PEM text or a key)")
    try:
        return crypto.load_private_key(private_key, passphrase)
    except ValueError as exc:
        raise ConfigError("private_key", str(exc)) from None
    except TypeError as exc:
        raise ConfigError("private_key", str(exc)) from None


def _public_numbers(certificate: Any) -> Any:
    try:
        return crypto.load_public_key(certificate).public_numbers()
    except ValueError as exc:
        raise ConfigError("merchant_cert", str(exc)) from None


def check_merchant_cert(cert: Any, mchid: str, serial: str, key: rsa.RSAPrivateKey | None) -> None:
    """Key ↔ merchant certificate ↔ ``serial`` (and ↔ ``mchid``) agree, or a :class:`ConfigError` naming which not.

    The same mismatches otherwise surface only as ``401 SIGN_ERROR`` from WeChat Pay on the first call.
    """
    try:
        certificate = crypto.load_certificate(cert)
    except (ValueError, TypeError) as exc:
        raise ConfigError("merchant_cert", str(exc)) from None
    cert_serial = crypto.certificate_serial(certificate)
    if cert_serial != serial:
        raise ConfigError(
            "serial",
            f"is {serial} but merchant_cert is the certificate with serial {cert_serial}: use that serial, or the "
            "certificate that goes with this serial (openssl x509 -noout -serial -in apiclient_cert.pem)",
        )
    if key is not None and key.public_key().public_numbers() != _public_numbers(certificate):
        raise ConfigError(
            "private_key",
            f"does not belong to merchant_cert (serial {cert_serial}): its public half differs from the "
            "certificate's; use the apiclient_key.pem issued with that certificate",
        )
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    common_name = str(names[0].value) if names else ""
    if common_name.isdigit() and common_name != mchid:
        raise ConfigError("mchid", f"is {mchid} but merchant_cert was issued to merchant {common_name}")


def load_certs(certs: Any, merchant_serial: str | None) -> dict[str, rsa.RSAPublicKey]:
    if certs is None:
        return {}
    if not isinstance(certs, Mapping):
        raise ConfigError(
            "certs",
            f"must map serial → certificate/public key, not {type(certs).__name__}, e.g. "
            "{'PUB_KEY_ID_0119…': 'file:///…/pub_key.pem'} or {'<platform serial>': 'file:///…/wechatpay_….pem'}",
        )
    out: dict[str, rsa.RSAPublicKey] = {}
    for serial, value in certs.items():
        if not isinstance(serial, str) or not serial.strip():
            raise ConfigError("certs", f"keys must be serial strings, got {serial!r}")
        name = serial.strip()
        if merchant_serial is not None and name.upper() == merchant_serial:
            raise ConfigError(
                f"certs[{name!r}]",
                "is the merchant's own API certificate serial; certs holds WeChat Pay platform "
                "certificates or the WeChat Pay public key (PUB_KEY_ID_...)",
            )
        try:
            out[name] = crypto.load_public_key(value)
        except ValueError as exc:
            raise ConfigError(f"certs[{name!r}]", str(exc)) from None
        except TypeError:
            raise ConfigError(f"certs[{name!r}]", f"unsupported type {type(value).__name__}") from None
    return out


def check_base_url(value: Any, name: str = "base_url") -> str:
    if not isinstance(value, str):
        raise ConfigError(name, f"must be a URL string, not {type(value).__name__}")
    try:
        url = yarl.URL(value)
    except (ValueError, TypeError):
        raise ConfigError(name, f"is not a URL: {value!r}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigError(name, f"must be an absolute http(s) URL, got {value!r}")
    if url.raw_user is not None or url.raw_password is not None:
        # "https://api.mch.weixin.qq.com@example.com/" names example.com: refuse what reads like another host.
        raise ConfigError(name, f"must not carry user information (user@host), got {value!r}")
    if url.host.lower() in WECHATPAY_HOSTS and url.scheme != "https":
        raise ConfigError(name, f"WeChat Pay is served over https only, got {value!r}")
    if url.query_string or url.fragment:
        raise ConfigError(name, "must not carry a query or fragment")
    text = str(url.with_query(None).with_fragment(None))
    return text if text.endswith("/") else text + "/"


def request_base(opts: Mapping[str, Any], default: str) -> tuple[str, frozenset[Origin]]:
    """The base URL for one call (``base_uri`` option or the client's) and the extra origin it allows."""
    if "base_uri" not in opts:
        return default, frozenset()
    try:
        base = check_base_url(opts["base_uri"], "base_uri")
    except ConfigError as exc:
        raise TemplateError(str(exc)) from None
    return base, frozenset({origin_of(yarl.URL(base))})


def check_origin(url: yarl.URL, allowed: frozenset[Origin], extra: frozenset[Origin]) -> None:
    """Refuse, before any I/O, a URL whose scheme, host and port are not all those of an allowed origin."""
    here = origin_of(url)
    if here not in allowed and here not in extra:
        raise TemplateError(
            f"{str(url)!r} is not on a WeChat Pay API host (https, port 443), the base_url or the base_uri "
            "given (scheme, host and port must all match); the merchant Authorization is never sent elsewhere"
        )


def check_apiv3_key(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value.encode()) != 32:
        raise ConfigError("apiv3_key", "must be the 32-character APIv3 key set in the merchant platform")
    return value


def check_apiv2_key(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) != 32 or not value.isascii() or not value.isalnum():
        raise ConfigError("apiv2_key", "must be the 32-character alphanumeric APIv2 key")
    return value


def make_timeout(value: Any, name: str = "timeout") -> aiohttp.ClientTimeout:
    """Seconds (total; connect is capped at 5 s) or an ``aiohttp.ClientTimeout``."""
    if isinstance(value, aiohttp.ClientTimeout):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return aiohttp.ClientTimeout(total=float(value), sock_connect=min(5.0, float(value)))
    raise ConfigError(name, f"must be a positive number of seconds or aiohttp.ClientTimeout, got {value!r}")
