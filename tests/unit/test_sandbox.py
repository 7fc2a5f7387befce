"""The sandbox's own contract: what the README promises of it, and Z-API's documented answers to
malformed calls (tests/e2e/test_sandbox.py drives it through the bot)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import httpx
import pytest

from bot.domain.clock import SystemClock
from bot.zapi.sandbox import SandboxZapi
from bot.zapi.sandbox_state import SCENARIOS, Scenario, scenario_of

README = Path(__file__).resolve().parents[2] / "README.md"
BASE = "https://api.z-api.io/instances/sandbox-1/token/sandbox/"


def test_the_readme_documents_every_ending() -> None:
    section = README.read_text(encoding="utf-8").split("## Sandbox instances", 1)[1]
    documented = re.findall(r"^\| `(\d\d)`", section.split("\n## ", 1)[0], re.MULTILINE)
    assert documented == list(SCENARIOS)
    assert set(SCENARIOS.values()) == set(Scenario)  # every scenario has its ending
    assert scenario_of("912345677") is Scenario.SUCCESS  # any other ending


@pytest.fixture
async def sandbox() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=SandboxZapi({"sandbox-1": "Try"}, SystemClock())
    ) as client:
        yield client


async def test_a_wrong_path_is_z_apis_not_found_with_200(sandbox: httpx.AsyncClient) -> None:
    for url in (
        BASE + "mobile/nothing-here",
        "https://api.z-api.io/instances/other/token/x/status",
    ):
        answer = await sandbox.get(url)
        assert answer.status_code == 200
        assert answer.json()["error"] == "NOT_FOUND"


async def test_malformed_calls_get_the_documented_errors(sandbox: httpx.AsyncClient) -> None:
    available = BASE + "mobile/registration-available"
    assert (await sandbox.get(available)).status_code == 405
    no_type = await sandbox.post(available, content=b'{"ddi": "55", "phone": "11912345600"}')
    assert no_type.status_code == 415
    assert (await sandbox.post(available, json={"ddi": 55, "phone": "1"})).status_code == 400
    asked = await sandbox.post(available, json={"ddi": "55", "phone": "11912345600"})
    assert asked.status_code == 200 and asked.json()["available"] is True


async def test_a_code_needs_the_number_checked_first(sandbox: httpx.AsyncClient) -> None:
    body = {"ddi": "55", "phone": "11912345600", "method": "sms"}
    refused = await sandbox.post(BASE + "mobile/request-registration-code", json=body)
    assert refused.status_code == 400 and "registration-available" in refused.json()["error"]
    confirm = await sandbox.post(BASE + "mobile/confirm-registration-code", json={"code": "1"})
    assert confirm.status_code == 400


class Memory:
    """A `SandboxMemory` in a dict, failing its first `failures` reads."""

    def __init__(self, kept: dict[str, str], failures: int = 0) -> None:
        self.kept, self.failures = kept, failures

    async def recall(self) -> Mapping[str, str]:
        if self.failures:
            self.failures -= 1
            raise OSError("database down")
        return dict(self.kept)

    async def keep(self, states: Mapping[str, str]) -> None:
        self.kept.update(states)


CHECK = {"ddi": "55", "phone": "11912345600"}


async def test_a_memory_that_cannot_be_read_changes_nothing_until_it_can() -> None:
    first = Memory({})
    async with httpx.AsyncClient(
        transport=SandboxZapi({"sandbox-1": "Try"}, SystemClock(), memory=first)
    ) as client:
        await client.post(BASE + "mobile/registration-available", json=CHECK)
    kept = dict(first.kept)
    down = Memory(kept, failures=1)
    async with httpx.AsyncClient(
        transport=SandboxZapi({"sandbox-1": "Try"}, SystemClock(), memory=down)
    ) as client:
        body = {**CHECK, "method": "sms"}
        refused = await client.post(BASE + "mobile/request-registration-code", json=body)
        assert refused.status_code == 503 and down.kept == kept  # nothing overwritten
        sent = await client.post(BASE + "mobile/request-registration-code", json=body)
        assert sent.status_code == 200 and sent.json()["success"] is True  # the check recalled


async def test_an_unreadable_row_starts_that_sandbox_afresh() -> None:
    memory = Memory({"sandbox-1": '{"name": "Try", "from": "an older bot"}', "gone": "{}"})
    async with httpx.AsyncClient(
        transport=SandboxZapi({"sandbox-1": "Try"}, SystemClock(), memory=memory)
    ) as client:
        status = await client.get(BASE + "status")
        assert status.status_code == 200 and status.json()["connected"] is False
        checked = await client.post(BASE + "mobile/registration-available", json=CHECK)
        assert checked.json()["available"] is True
    assert "gone" in memory.kept and '"checked": ["55"' in memory.kept["sandbox-1"]


async def test_a_failure_inside_the_sandbox_is_z_apis_500_not_an_exception() -> None:
    async def broken_phone(instance: str, message: object) -> None:
        raise RuntimeError("the phone is off")

    transport = SandboxZapi({"sandbox-1": "Try"}, SystemClock(), deliver=broken_phone)
    async with httpx.AsyncClient(transport=transport) as client:
        await client.post(BASE + "mobile/registration-available", json=CHECK)
        body = {**CHECK, "method": "sms"}
        failed = await client.post(BASE + "mobile/request-registration-code", json=body)
    assert failed.status_code == 500 and "error" in failed.json()
