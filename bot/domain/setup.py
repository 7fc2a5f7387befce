"""The set-up of a connected number: what it sets, and what became of each part.

A flow's row keeps the parts' states as `name=set,pin=already`; parts not reached are absent.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

__all__ = ["Part", "PartState", "read_parts", "write_parts"]


class Part(StrEnum):
    """What the set-up sets, in the order it asks."""

    NAME = "name"
    ABOUT = "about"
    PIN = "pin"
    EMAIL = "email"


class PartState(StrEnum):
    SET = "set"
    SKIPPED = "skipped"
    ALREADY = "already"  # the number had one: left as it was
    UNVERIFIED = "unverified"  # the e-mail was given, its code never confirmed


def read_parts(stored: str) -> dict[Part, PartState]:
    parts: dict[Part, PartState] = {}
    for item in filter(None, stored.split(",")):
        name, _, state = item.partition("=")
        if name in Part.__members__.values() and state in PartState.__members__.values():
            parts[Part(name)] = PartState(state)
    return parts


def write_parts(parts: Mapping[Part, PartState]) -> str:
    return ",".join(f"{part.value}={parts[part].value}" for part in Part if part in parts)
