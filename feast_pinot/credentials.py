"""Credentials in client settings: which keys hold one, and how they are shown (never).

Kafka client settings (librdkafka's ``sasl.password``, a Java client's
``sasl.jaas.config``) travel in plain dicts of the store's and the ingester's
configs; their ``repr`` masks every value whose key names a credential.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TypeVar

__all__ = ["MASK", "is_secret_key", "masked"]

MASK = "**********"
_SECRET_KEY = re.compile(r"password|secret|jaas|token|credential", re.IGNORECASE)
V = TypeVar("V")


def is_secret_key(key: str) -> bool:
    return _SECRET_KEY.search(key) is not None


def masked(settings: Mapping[str, V]) -> dict[str, V | str]:
    """``settings`` with the value of every credential key replaced by :data:`MASK`."""
    return {key: MASK if is_secret_key(key) else value for key, value in settings.items()}
