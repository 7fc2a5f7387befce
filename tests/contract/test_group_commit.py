"""Group commit (issue 5): many chats' writes share a transaction, and each caller hears back
only once its write is committed; a refused or failing write costs nobody else theirs."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation.ports import WriteRefused
from bot.domain.record import FLOW_COLUMNS, FlowRecord
from bot.storage import repositories as repo
from bot.storage.database import Database
from bot.storage.group_commit import GroupCommit
from bot.storage.migrate import upgrade
from bot.storage.models import AuditEvent, Registration


def commits_of(database: Database) -> list[int]:
    """Counts the transactions committed on `database` from now on."""
    counter = [0]

    def committed(_connection: Any) -> None:
        counter[0] += 1

    event.listen(database.engine.sync_engine, "commit", committed)
    return counter


def flow(chat_id: int) -> FlowRecord:
    return FlowRecord(chat_id=chat_id, user_id=chat_id, flow_id=f"f{chat_id}", step="instance")


async def stored_chats(database: Database) -> set[int]:
    async with database.reader() as session:
        return set((await session.scalars(select(Registration.chat_id))).all())


async def audit_count(database: Database) -> int:
    async with database.reader() as session:
        return int(await session.scalar(select(func.count()).select_from(AuditEvent)) or 0)


def audit(chat_id: int, action: str = "test") -> Any:
    async def write(session: AsyncSession) -> int:
        await repo.record_event(
            session, user_id=chat_id, chat_id=chat_id, action=action, outcome="ok"
        )
        return chat_id

    return write


def test_flow_record_has_exactly_the_registrations_columns() -> None:
    assert set(FLOW_COLUMNS) == {column.key for column in Registration.__table__.columns}


async def test_a_crowd_of_new_flows_is_written_in_a_few_transactions(db: Database) -> None:
    writes = GroupCommit(db)
    commits = commits_of(db)
    results = await asyncio.gather(
        *(writes.add(repo.insert_flows, flow(chat)) for chat in range(1, 301))
    )
    assert results == [True] * 300
    assert await stored_chats(db) == set(range(1, 301))
    assert 1 <= commits[0] <= 5  # 300 writes, batches of at most 256


async def test_a_caller_hears_back_only_after_its_write_is_committed(db: Database) -> None:
    writes = GroupCommit(db)

    async def insert_then_look(chat: int) -> bool:
        assert await writes.add(repo.insert_flows, flow(chat))
        # Another connection (another process, the bot after a restart) already sees it.
        return chat in await stored_chats(db)

    assert await asyncio.gather(*(insert_then_look(chat) for chat in range(1, 21))) == [True] * 20


async def test_a_flow_that_exists_is_not_inserted_again(db: Database) -> None:
    writes = GroupCommit(db)
    assert await writes.add(repo.insert_flows, flow(7)) is True
    again = flow(7)
    again.step = "ddi"
    assert await writes.add(repo.insert_flows, again) is False
    async with db.reader() as session:
        stored = await repo.get_flow(session, 7)
    assert stored is not None and stored.step == "instance"


async def test_two_new_flows_of_one_chat_in_one_batch_insert_once(db: Database) -> None:
    writes = GroupCommit(db)
    first, second = flow(9), flow(9)
    second.flow_id = "other"
    results = await asyncio.gather(
        writes.add(repo.insert_flows, first), writes.add(repo.insert_flows, second)
    )
    assert sorted(results) == [False, True]
    async with db.reader() as session:
        stored = await repo.get_flow(session, 9)
    assert stored is not None and stored.flow_id == (first if results[0] else second).flow_id


async def test_a_refused_write_leaves_the_others_of_its_batch_alone(db: Database) -> None:
    writes = GroupCommit(db)
    commits = commits_of(db)

    async def refuse(session: AsyncSession) -> None:
        raise WriteRefused("version moved on")

    outcomes = await asyncio.gather(
        writes.run(audit(1)), writes.run(refuse), writes.run(audit(2)), return_exceptions=True
    )
    assert outcomes[0] == 1 and outcomes[2] == 2
    assert isinstance(outcomes[1], WriteRefused)
    assert await audit_count(db) == 2
    assert commits[0] == 1  # the refusal did not split the batch


async def test_a_failing_write_fails_alone_and_leaves_nothing_behind(db: Database) -> None:
    writes = GroupCommit(db)
    assert await writes.add(repo.insert_flows, flow(5))

    async def write_then_break(session: AsyncSession) -> None:
        await repo.record_event(session, user_id=5, chat_id=5, action="half", outcome="written")
        await session.flush()
        await session.execute(  # a duplicate key: the database refuses the whole statement
            Registration.__table__.insert(), [flow(5).values()]
        )

    outcomes = await asyncio.gather(
        writes.run(audit(1)),
        writes.run(write_then_break),
        writes.add(repo.insert_flows, flow(6)),
        writes.run(audit(2)),
        return_exceptions=True,
    )
    assert outcomes[0] == 1 and outcomes[2] is True and outcomes[3] == 2
    assert isinstance(outcomes[1], IntegrityError)
    async with db.reader() as session:
        actions = (await session.scalars(select(AuditEvent.action))).all()
    assert sorted(actions) == ["test", "test"]  # the broken write's event is not there
    assert await stored_chats(db) == {5, 6}


async def test_a_caller_that_gives_up_does_not_undo_the_write(db: Database) -> None:
    writes = GroupCommit(db)
    started = asyncio.Event()
    release = asyncio.Event()

    async def slow(session: AsyncSession) -> int:
        started.set()
        await release.wait()
        await repo.record_event(session, user_id=1, chat_id=1, action="slow", outcome="ok")
        return 1

    caller = asyncio.create_task(writes.run(slow))
    await started.wait()
    later = asyncio.create_task(writes.run(audit(2)))
    caller.cancel()
    release.set()
    assert await later == 2  # the next batch still runs
    assert await audit_count(db) == 2


async def test_a_database_locked_elsewhere_fails_the_batch_once(sqlite_url: str) -> None:
    """Another process holds SQLite's write lock past the busy timeout: every write of the batch
    gets the error after one wait, not one wait per write."""
    database = Database(sqlite_url, busy_timeout_ms=200)
    await upgrade(database)
    refusals = [0]

    def refused(_context: Any) -> None:
        refusals[0] += 1

    event.listen(database.engine.sync_engine, "handle_error", refused)
    writes = GroupCommit(database)
    assert await writes.add(repo.insert_flows, flow(100)) is True
    other = sqlite3.connect(sqlite_url.split("///", 1)[1], isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process writing, and not letting go
        outcomes = await asyncio.gather(
            *(writes.add(repo.insert_flows, flow(chat)) for chat in range(1, 4)),
            writes.run(audit(9)),
            return_exceptions=True,
        )
        assert all(isinstance(outcome, OperationalError) for outcome in outcomes), outcomes
        assert refusals[0] == 1  # one attempt for the whole batch, not one per write
        other.rollback()
        assert await writes.add(repo.insert_flows, flow(1)) is True  # and then it works again
    finally:
        other.close()
        await database.dispose()
