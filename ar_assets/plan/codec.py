"""Planned messages to and from JSON, with exact money and ISO dates."""

from __future__ import annotations

import dataclasses
import json
import typing
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

T = TypeVar("T")


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def to_json(message: Any) -> str:
    """Serializes a planned message; Decimals become strings, never floats."""
    return json.dumps(_plain(message), ensure_ascii=False, sort_keys=True)


def _build(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        return tp(**{k: _build(hints[k], v) for k, v in value.items() if k in hints})
    if origin is tuple:
        return tuple(_build(args[0], v) for v in value)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        inner = [a for a in args if a is not type(None)]
        return _build(inner[0], value)
    if tp is Decimal:
        return Decimal(value)
    if tp is date:
        return date.fromisoformat(value)
    return value


def from_json(cls: type[T], text: str) -> T:
    """Rebuilds a planned message of type `cls` from `to_json` output."""
    return _build(cls, json.loads(text))
