"""How a Z-API call is watched from outside the client: `ZapiClient.tally(instance, endpoint)`
is the context each call runs in (bot/metrics.py times and counts them; by default nothing)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

from bot.config import InstanceConfig

__all__ = ["Tally", "untallied"]

Tally = Callable[[InstanceConfig, str], AbstractContextManager[object]]


def untallied(instance: InstanceConfig, endpoint: str) -> AbstractContextManager[object]:
    return nullcontext()
