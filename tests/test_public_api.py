"""The public surface: sorted, importable __all__, and errors that pickle without secrets."""

from __future__ import annotations

import pickle

import pytest

import wechatpay_chain
from wechatpay_chain import errors


def test_all_is_sorted_and_importable() -> None:
    names = wechatpay_chain.__all__
    assert names == sorted(names)
    for name in names:
        assert getattr(wechatpay_chain, name) is not None


@pytest.mark.parametrize(
    "exc",
    [
        errors.ConfigError("certs", "is empty"),
        errors.TemplateError("missing {x}"),
        errors.TransportError("reset"),
        errors.RequestTimeout("slow"),
        errors.OutcomeUnknown("maybe"),
        errors.APIError(500, "SYSTEM_ERROR", "busy", {"f": 1}, "rid", b"{}", {"Request-ID": "rid"}),
        errors.VerificationError("bad_signature", "nope", "rid"),
        errors.DecryptionError("tag"),
        errors.DecodeError("not json"),
    ],
)
def test_errors_pickle_and_root(exc: errors.WeChatPayError) -> None:
    clone = pickle.loads(pickle.dumps(exc))
    assert type(clone) is type(exc)
    assert str(clone) == str(exc)
    assert isinstance(clone, errors.WeChatPayError)


def test_builtin_bases() -> None:
    assert issubclass(errors.ConfigError, ValueError)
    assert issubclass(errors.TemplateError, ValueError)
    assert issubclass(errors.RequestTimeout, TimeoutError)
    assert issubclass(errors.OutcomeUnknown, errors.TransportError)
