"""Group commit: each mutation is answered after a commit that holds it, and fails alone."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path

import pytest
from sqlalchemy import Connection, event, insert, select

from syncd.errors import PathConflict
from syncd.server.db import Database, open_database
from syncd.server.schema import accounts


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path / 'syncd.db'}")
    yield database
    database.dispose()


def committed_tags(db: Database) -> set[str]:
    with db.read() as conn:
        return {row.tag for row in conn.execute(select(accounts.c.tag))}


def add(tag: str) -> object:
    def mutate(conn: Connection) -> str:
        conn.execute(insert(accounts).values(id=f"a-{tag}", tag=tag, create_time="t"))
        if tag.startswith("bad"):
            raise PathConflict(f"{tag} refused after writing")
        return tag

    return mutate


def hold_the_commit_thread(db: Database) -> tuple[threading.Event, threading.Thread]:
    """Start a mutation that blocks the commit thread until the event is set."""
    release = threading.Event()
    started = threading.Event()

    def blocker(conn: Connection) -> None:
        started.set()
        release.wait(10)

    def hold() -> None:
        with suppress(Exception):  # its own commit may be the one a test makes fail
            db.grouped(blocker)

    thread = threading.Thread(target=hold)
    thread.start()
    assert started.wait(10)
    return release, thread


def test_concurrent_mutations_share_commits_and_fail_alone(db: Database) -> None:
    commits: list[bool] = []  # one item per write commit (reads commit too, they are skipped)
    event.listen(
        db.engine, "commit", lambda conn: commits.append(True) if conn.info.get("write") else None
    )
    tags = [f"ok{n}" for n in range(20)] + ["bad1", "bad2"]
    release, holder = hold_the_commit_thread(db)  # so the others queue into one group
    with ThreadPoolExecutor(len(tags)) as pool:
        futures = {tag: pool.submit(db.grouped, add(tag)) for tag in tags}
        deadline = time.monotonic() + 10
        while len(db._queue) < len(tags) and time.monotonic() < deadline:
            time.sleep(0.001)  # poll with a deadline until every mutation is queued
        release.set()
        holder.join(10)
        for tag, future in futures.items():
            if tag.startswith("bad"):
                with pytest.raises(PathConflict):
                    future.result(10)
            else:
                assert future.result(10) == tag
                assert tag in committed_tags(db)  # answered only once it is committed
    assert committed_tags(db) == {tag for tag in tags if tag.startswith("ok")}
    assert len(commits) == 2  # the blocker's group, then one group for all the others


def test_a_refused_duplicate_leaves_the_first_commit(db: Database) -> None:
    assert db.grouped(add("one")) == "one"
    with pytest.raises(Exception, match="UNIQUE"):
        db.grouped(add("one"))  # the same row again: the constraint sees the first commit
    assert committed_tags(db) == {"one"}


def test_coroutines_share_a_commit_and_fail_alone(db: Database) -> None:
    commits: list[bool] = []
    event.listen(
        db.engine, "commit", lambda conn: commits.append(True) if conn.info.get("write") else None
    )
    tags = [f"ok{n}" for n in range(30)] + ["bad1"]

    async def main() -> list[object]:
        release, thread = hold_the_commit_thread(db)
        pending = asyncio.gather(*(db.submit(add(tag)) for tag in tags), return_exceptions=True)
        deadline = time.monotonic() + 10
        while len(db._queue) < len(tags) and time.monotonic() < deadline:
            await asyncio.sleep(0.001)  # poll with a deadline until every mutation is queued
        release.set()
        answers = await pending
        thread.join(10)
        return answers

    answers = asyncio.run(main())
    for tag, answer in zip(tags, answers, strict=True):
        if tag.startswith("bad"):
            assert isinstance(answer, PathConflict)
        else:
            assert answer == tag
    assert committed_tags(db) == {tag for tag in tags if tag.startswith("ok")}
    assert len(commits) == 2  # the blocker's group, then one group for all the others


def test_a_failed_commit_fails_its_whole_group_and_only_it(db: Database) -> None:
    release, thread = hold_the_commit_thread(db)
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(db.grouped, add(f"lost{n}")) for n in range(4)]
        deadline = time.monotonic() + 10
        while len(db._queue) < 4 and time.monotonic() < deadline:
            time.sleep(0.001)

        def refuse(conn: Connection) -> None:
            raise OSError("disk full")  # as if the WAL could not be written

        event.listen(db.engine, "commit", refuse)
        release.set()
        thread.join(10)
        for future in futures:
            with pytest.raises(OSError, match="disk full"):
                future.result(10)
        event.remove(db.engine, "commit", refuse)
    assert db.grouped(add("after")) == "after"  # the commit thread goes on
    assert committed_tags(db) == {"after"}


def test_dispose_answers_what_was_queued(tmp_path: Path) -> None:
    database = open_database(f"sqlite:///{tmp_path / 'syncd.db'}")
    release, thread = hold_the_commit_thread(database)
    with ThreadPoolExecutor(1) as pool:
        queued = pool.submit(database.grouped, add("queued"))
        while not database._queue:
            time.sleep(0.001)
        release.set()
        database.dispose()  # waits for the queue to drain, then closes
        assert queued.result(10) == "queued"
    thread.join(10)
    with pytest.raises(RuntimeError, match="closed"):
        database.grouped(add("late"))
