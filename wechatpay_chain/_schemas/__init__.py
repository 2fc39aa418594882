"""Bundled request/response specs (see :mod:`wechatpay_chain.schema`)."""
