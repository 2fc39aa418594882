"""APIv2 (legacy XML protocol): signatures, hardened XML, notifications, the merchant TLS certificate.

Calls go through the ordinary chain — any path starting with ``v2/`` is sent as XML with the prefix
stripped: ``await wxpay.v2.pay.micropay.post(xml={...})``. These helpers are public for notification
handlers and scripts.
"""

from ..errors import APIv2Error
from ._request import SIGNLESS
from ._sign import HMAC_SHA256, MD5, algorithm_for, sign, string_to_sign, verify
from ._xml import XMLError, parse_xml, to_xml
from .notify import decrypt_refund_notification, reply, req_info_key, verify_notification
from .tls import MerchantCertificate

__all__ = [
    "HMAC_SHA256",
    "MD5",
    "SIGNLESS",
    "APIv2Error",
    "MerchantCertificate",
    "XMLError",
    "algorithm_for",
    "decrypt_refund_notification",
    "parse_xml",
    "reply",
    "req_info_key",
    "sign",
    "string_to_sign",
    "to_xml",
    "verify",
    "verify_notification",
]
