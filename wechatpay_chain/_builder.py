"""``Builder.factory``: build a client from a wechatpay-php style configuration array."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, overload

from ._client import Client
from ._sync import SyncClient
from .errors import ConfigError

__all__ = ["Builder"]

# PHP/Node spelling → our keyword. snake_case spellings map to themselves.
_ALIASES = {
    "mchid": "mchid",
    "serial": "serial",
    "serial_no": "serial",
    "serialNo": "serial",
    "privateKey": "private_key",
    "private_key": "private_key",
    "certs": "certs",
    "base_uri": "base_url",
    "baseUri": "base_url",
    "base_url": "base_url",
    "baseURL": "base_url",
    "secret": "apiv2_key",
    "apiv2_key": "apiv2_key",
    "apiv3_key": "apiv3_key",
    "apiv3Key": "apiv3_key",
    "timeout": "timeout",
    "passphrase": "passphrase",
}


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
            target = _ALIASES.get(key)
            if target is None:
                raise ConfigError(key, f"is not a recognised configuration key; known: {', '.join(sorted(_ALIASES))}")
            if target in kwargs:
                raise ConfigError(key, f"duplicates {target!r}")
            kwargs[target] = value
        if "mchid" not in kwargs:
            raise ConfigError("mchid", "is required")
        return SyncClient(**kwargs) if sync else Client(**kwargs)
