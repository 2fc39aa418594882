"""Constructor keyword checking: a typo'd ``Client(...)`` keyword names the one probably meant.

Python's own ``TypeError`` ("unexpected keyword argument 'privateKey'") leaves a porting user guessing; this
raises a :class:`ConfigError` naming the unknown keyword, the closest valid one (a wechatpay-php spelling maps
to its Python keyword) and the full list, before anything is loaded or connected.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast

from ._options import closest
from .errors import ConfigError

__all__ = ["PHP_KEYS", "check_keywords", "keywords_checked"]

#: wechatpay-php/Node configuration spelling → our keyword. snake_case spellings map to themselves.
PHP_KEYS = {
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

_Init = TypeVar("_Init", bound=Callable[..., None])


def check_keywords(owner: str, given: Iterable[str], valid: Iterable[str]) -> None:
    """Raise :class:`ConfigError` for the first name in ``given`` that is not in ``valid``."""
    names = frozenset(valid)
    for key in given:
        if key in names:
            continue
        near = PHP_KEYS.get(key) or closest(key, names)
        hint = f"did you mean {near!r}? " if near in names else ""
        known = ", ".join(sorted(names))
        raise ConfigError(key, f"is not a keyword argument of {owner}(); {hint}valid: {known}")


def parameters(init: Callable[..., Any]) -> frozenset[str]:
    """The names ``init`` accepts as keywords (``self`` excluded)."""
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return frozenset(
        name for name, p in inspect.signature(init).parameters.items() if p.kind in kinds and name != "self"
    )


def keywords_checked(init: _Init) -> _Init:
    """Wrap a class's ``__init__`` so an unknown keyword raises :func:`check_keywords`'s error."""
    valid = parameters(init)

    @functools.wraps(init)
    def checked(self: Any, *args: Any, **kwargs: Any) -> None:
        check_keywords(type(self).__name__, kwargs, valid)
        init(self, *args, **kwargs)

    return cast(_Init, checked)

