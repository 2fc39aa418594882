"""``python -m wechatpay_chain`` and the ``wechatpay-chain`` console script (see :mod:`wechatpay_chain.cli`)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    from .cli import main as run

    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
