"""Group commit: each mutation is answered after a commit that holds it, and fails alone."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
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


def test_concurrent_mutations_share_commits_and_fail_alone(db: Database) -> None:
    release = threading.Event()

    def blocker(conn: Connection) -> None:
        release.wait(10)  # holds the write lock, so the others queue into one group

    commits: list[bool] = []  # one item per write commit (reads commit too, they are skipped)
    event.listen(
        db.engine, "commit", lambda conn: commits.append(True) if conn.info.get("write") else None
    )
    tags = [f"ok{n}" for n in range(20)] + ["bad1", "bad2"]
    with ThreadPoolExecutor(len(tags) + 1) as pool:
        first = pool.submit(db.grouped, blocker)
        futures = {tag: pool.submit(db.grouped, add(tag)) for tag in tags}
        deadline = time.monotonic() + 10
        while len(db._queue) < len(tags) and time.monotonic() < deadline:
            time.sleep(0.001)  # poll with a deadline until every mutation is queued
        release.set()
        first.result(10)
        for tag, future in futures.items():
            if tag.startswith("bad"):
                with pytest.raises(PathConflict):
                    future.result(10)
            else:
                assert future.result(10) == tag
                assert tag in committed_tags(db)  # answered only once it is committed
    assert committed_tags(db) == {tag for tag in tags if tag.startswith("ok")}
    assert len(commits) <= 2  # the blocker's group, then one group for all the others


def test_a_refused_duplicate_leaves_the_first_commit(db: Database) -> None:
    assert db.grouped(add("one")) == "one"
    with pytest.raises(Exception, match="UNIQUE"):
        db.grouped(add("one"))  # the same row again: the constraint sees the first commit
    assert committed_tags(db) == {"one"}
