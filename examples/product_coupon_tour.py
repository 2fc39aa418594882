"""The product-coupon (商品券) lifecycle end to end: create, add stocks, list, read, patch, bundle, replay.

    python examples/product_coupon_tour.py

The same tour ships in the package (``wechatpay-chain tour`` or ``python -m wechatpay_chain.tour``); its steps are
in ``wechatpay_chain/tour.py``. With no environment variables it starts the embedded sandbox in-process (fresh
keys, nothing to configure); the ``WECHATPAY_*`` variables that point it at WeChat Pay are listed there.
Exit code 0 when every step behaved as expected.
"""

from __future__ import annotations

import sys

from wechatpay_chain.tour import main

if __name__ == "__main__":
    sys.exit(main(prog="examples/product_coupon_tour.py"))
