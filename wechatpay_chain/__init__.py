"""wechatpay-chain: an async-first, chainable WeChat Pay client on aiohttp.

``async with Client(mchid, serial, private_key, certs) as wxpay:
    await wxpay.v3.pay.transactions.native.post(json={...})``
"""

from ._builder import Builder
from ._chain import Node, SyncNode
from ._client import Client, RequestEvent
from ._promise import Promise
from ._response import Response
from ._sync import SyncClient
from ._version import __version__
from .errors import (
    APIError,
    APIv2Error,
    ConfigError,
    DecodeError,
    DecryptionError,
    EventLoopError,
    OutcomeUnknown,
    RequestTimeout,
    TemplateError,
    TransportError,
    VerificationError,
    WeChatPayError,
)
from .middleware import WeChatPayMiddleware
from .retry import RetryPolicy
from .signing import RSASigner, Signer, Verifier

__all__ = [
    "APIError",
    "APIv2Error",
    "Builder",
    "Client",
    "ConfigError",
    "DecodeError",
    "DecryptionError",
    "EventLoopError",
    "Node",
    "OutcomeUnknown",
    "Promise",
    "RSASigner",
    "RequestEvent",
    "RequestTimeout",
    "Response",
    "RetryPolicy",
    "Signer",
    "SyncClient",
    "SyncNode",
    "TemplateError",
    "TransportError",
    "VerificationError",
    "Verifier",
    "WeChatPayError",
    "WeChatPayMiddleware",
    "__version__",
]
