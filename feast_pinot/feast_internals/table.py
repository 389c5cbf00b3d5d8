"""How the door lists what it wraps."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Internal"]


@dataclass(frozen=True)
class Internal:
    """A private Feast callable the door wraps, and the parameters its wrapper passes it by name."""

    owner: object
    name: str
    parameters: tuple[str, ...]
