"""``Builder.factory``: build a client from a wechatpay-php configuration array, Guzzle options included.

Each key maps to a :class:`Client` argument; the ``merchant`` certificate pair, ``secret`` (APIv2 key) and PHP's
``['any' => null]`` placeholder for APIv2-only use are understood; Guzzle client options either keep their
meaning (``timeout``, ``connect_timeout``, ``headers``, and ``verify``/``http_errors``/``debug``/
``allow_redirects`` as every call's default) or are refused with the Python way to get the same thing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Literal, overload

import aiohttp

from ._client import Client
from ._keywords import PHP_KEYS as _ALIASES
from ._options import GUZZLE_REFUSED, check_guzzle_option, check_headers, closest
from ._prepare import _ca_context
from ._sync import SyncClient
from .errors import ConfigError, TemplateError

__all__ = ["Builder"]

#: Guzzle request options that may also be given once, in the configuration, as every call's default.
_CALL_DEFAULTS = frozenset({"verify", "allow_redirects", "http_errors", "debug"})


def _pair(value: Any, field: str) -> tuple[Any, Any]:
    """Guzzle's ``path`` or ``[path, passphrase]``."""
    if isinstance(value, list | tuple):
        if len(value) != 2:
            raise ConfigError(field, "must be a path or [path, passphrase]")
        return value[0], value[1]
    return value, None


def _merchant(value: Any) -> dict[str, Any]:
    """``'merchant' => ['cert' => ..., 'key' => ...]`` (each a path or ``[path, passphrase]``), or a PKCS#12 file
    as ``cert`` (``.p12``/``.pfx``, no ``key``) or Node's ``{pfx, passphrase}`` → the Client's TLS arguments."""
    if not isinstance(value, Mapping):
        raise ConfigError("merchant", f"must be ['cert' => ..., 'key' => ...], not {type(value).__name__}")
    unknown = sorted(set(value) - {"cert", "key", "pfx", "passphrase"})
    if unknown:
        raise ConfigError(f"merchant[{unknown[0]!r}]", "is not one of cert, key (or pfx, passphrase)")
    if "pfx" in value:
        return {"merchant_pkcs12": (value["pfx"], value.get("passphrase"))}
    cert, cert_pass = _pair(value.get("cert"), "merchant['cert']")
    key, key_pass = _pair(value.get("key"), "merchant['key']")
    if cert is None:
        raise ConfigError("merchant['cert']", "is required (apiclient_cert.pem, or apiclient_cert.p12)")
    if key is None and isinstance(cert, str | os.PathLike) and os.fspath(cert).lower().endswith((".p12", ".pfx")):
        return {"merchant_pkcs12": (cert, cert_pass)}
    if key is None:
        raise ConfigError("merchant['key']", "is required with a PEM certificate (apiclient_key.pem)")
    passphrase = key_pass if key_pass is not None else value.get("passphrase", cert_pass)
    return {"merchant_cert": (cert, key, passphrase) if passphrase is not None else (cert, key)}


def _apiv2_only(kwargs: dict[str, Any]) -> None:
    """PHP needs dummy APIv3 settings for APIv2-only use (``'certs' => ['any' => null]``): drop them."""
    certs = kwargs.get("certs")
    if not isinstance(certs, Mapping) or not certs:
        return
    nulls = [name for name, value in certs.items() if value is None]
    if not nulls:
        return
    if len(nulls) < len(certs):
        raise ConfigError(f"certs[{nulls[0]!r}]", "is null: give the WeChat Pay platform certificate or public key")
    if kwargs.get("apiv2_key") is None:
        raise ConfigError(
            "certs", "holds only null placeholders: APIv3 needs the platform certificates or the WeChat Pay public "
            "key ({'PUB_KEY_ID_...': 'file:///path/pub_key.pem'}); for APIv2 only, give 'secret'"
        )
    for name in ("serial", "private_key", "certs", "passphrase"):
        kwargs.pop(name, None)


def _guzzle(key: str, value: Any, kwargs: dict[str, Any]) -> bool:
    """Apply or refuse one Guzzle client option; ``False`` if ``key`` is not one."""
    if key in _CALL_DEFAULTS:  # as in Guzzle: the default of every call (a call's own option wins)
        try:
            check_guzzle_option(key, value)
        except TemplateError as exc:
            raise ConfigError(key, str(exc).split(": ", 1)[-1]) from None
        if key == "debug" and not (isinstance(value, bool) or callable(getattr(value, "write", None))):
            raise ConfigError("debug", "must be True, False or a text stream (with write())")
        if key == "verify" and isinstance(value, str):
            try:
                _ca_context(value)  # a bad CA bundle fails here, not at the first call
            except TemplateError as exc:
                raise ConfigError("verify", str(exc).split(": ", 1)[-1]) from None
        kwargs.setdefault("_call_defaults", {})[key] = value
        return True
    if key == "headers":
        try:
            kwargs["headers"] = check_headers(value)
        except TemplateError as exc:
            raise ConfigError("headers", str(exc)) from None
        return True
    if key == "connect_timeout":
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ConfigError("connect_timeout", f"must be a positive number of seconds, got {value!r}")
        kwargs["_connect_timeout"] = float(value)
        return True
    if key in GUZZLE_REFUSED:
        raise ConfigError(key, f"is a Guzzle option with no equivalent here: {GUZZLE_REFUSED[key]}")
    return False


class Builder:
    """Port a wechatpay-php ``Builder::factory([...])`` call line for line."""

    @overload
    @staticmethod
    def factory(config: Mapping[str, Any], *, sync: Literal[False] = ...) -> Client: ...

    @overload
    @staticmethod
    def factory(config: Mapping[str, Any], *, sync: Literal[True]) -> SyncClient: ...

    @staticmethod
    def factory(config: Mapping[str, Any], *, sync: bool = False) -> Client | SyncClient:
        """``Builder.factory({"mchid": ..., "serial": ..., "privateKey": ..., "certs": {...}})``."""
        if not isinstance(config, Mapping):
            raise ConfigError("config", f"must be a mapping, not {type(config).__name__}")
        kwargs: dict[str, Any] = {}
        for key, value in config.items():
            if key == "merchant":
                kwargs.update(_merchant(value))
                continue
            target = _ALIASES.get(key)
            if target is None:
                if _guzzle(key, value, kwargs):
                    continue
                names = {*_ALIASES, "merchant", "headers", "connect_timeout", *_CALL_DEFAULTS}
                near = closest(key, names) if isinstance(key, str) else None
                hint = f"did you mean {near!r}? " if near else ""
                known = ", ".join(sorted(names))
                raise ConfigError(key, f"is not a recognised configuration key; {hint}known: {known}")
            if target in kwargs:
                raise ConfigError(key, f"duplicates {target!r}")
            kwargs[target] = value
        if "mchid" not in kwargs:
            raise ConfigError("mchid", "is required")
        if isinstance(kwargs.get("private_key"), list):
            kwargs["private_key"] = tuple(kwargs["private_key"])  # PHP's [pem, passphrase]
        _apiv2_only(kwargs)
        headers = kwargs.pop("headers", None)
        call_defaults = kwargs.pop("_call_defaults", None)
        connect = kwargs.pop("_connect_timeout", None)
        if connect is not None:
            total = kwargs.get("timeout", 15.0)
            if isinstance(total, aiohttp.ClientTimeout | bool) or not isinstance(total, int | float):
                raise ConfigError("connect_timeout", "combine it with timeout as aiohttp.ClientTimeout(total=..., "
                                  "sock_connect=...)")
            kwargs["timeout"] = aiohttp.ClientTimeout(total=float(total), sock_connect=connect)
        client = SyncClient(**kwargs) if sync else Client(**kwargs)
        inner = client.client if isinstance(client, SyncClient) else client
        inner._call_defaults = call_defaults
        if headers:
            base = inner._base_headers  # default headers of every request, as Guzzle's client 'headers'
            for name, value in headers.items():
                for old in [k for k in base if k.lower() == name.lower()]:
                    del base[old]
                base[name] = value
        return client
