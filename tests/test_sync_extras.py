"""SyncClient exposes the same helpers as Client (notifications, sensitive fields) in blocking form."""

from __future__ import annotations

import pytest

from wechatpay_chain import VerificationError
from wechatpay_chain.sandbox import SyncSandbox
from wechatpay_chain.testing import sign_response_headers


def test_sync_parse_notification_and_encrypt() -> None:
    with SyncSandbox() as sb:
        wxpay = sb.client(apiv3_key=sb.apiv3_key)
        try:
            body = sb.notification(event_type="COUPON.USE", resource={"stock_id": "1"})
            headers = sign_response_headers(body, sb.platform.private_key, sb.platform.serial)
            note = wxpay.parse_notification(headers, body)
            assert note.event_type == "COUPON.USE"
            assert note.resource == {"stock_id": "1"}
            with pytest.raises(VerificationError):
                wxpay.parse_notification(headers, body + b" ")
            secret = wxpay.encrypt("张三")
            assert secret.serial in sb.certs()
        finally:
            wxpay.close()
