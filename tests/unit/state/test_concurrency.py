"""WAL: readers (``syncd status``) never wait for the writer, writers wait for each other."""

from __future__ import annotations

import threading
from pathlib import Path

from syncd.planner.trees import BaseNode, Kind
from syncd.state import Store

OLD = BaseNode("old.txt", Kind.FILE, 1)
NEW = BaseNode("new.txt", Kind.FILE, 2)


def test_reader_sees_the_last_commit_while_a_write_transaction_is_open(db_path: Path) -> None:
    with Store.open(db_path) as writer, Store.open(db_path, create=False) as reader:
        writer.put_base([OLD])
        with writer.transaction():
            writer.put_base([NEW])
            writer.meta.set_cursor(9)
            # Another connection (as `syncd status` in its own process) is not blocked
            # and does not see the uncommitted rows.
            assert set(reader.base()) == {"old.txt"}
            assert reader.meta.cursor() is None
            with reader.snapshot():
                assert reader.base_count() == 1
        assert set(reader.base()) == {"old.txt", "new.txt"}
        assert reader.meta.cursor() == 9


def test_a_second_writer_waits_instead_of_failing(db_path: Path) -> None:
    with Store.open(db_path) as first, Store.open(db_path) as second:
        done = threading.Event()
        errors: list[BaseException] = []

        def write_second() -> None:
            try:
                second.put_base([NEW])
            except BaseException as exc:  # reported to the main thread
                errors.append(exc)
            finally:
                done.set()

        with first.transaction():
            first.put_base([OLD])
            thread = threading.Thread(target=write_second)
            thread.start()
            assert not done.wait(0.2)  # blocked on the open write transaction
        assert done.wait(10)
        thread.join()
        assert errors == []
        assert set(first.base()) == {"old.txt", "new.txt"}


def test_threads_share_one_store(store: Store) -> None:
    def write(worker: int) -> None:
        for i in range(20):
            store.put_base([BaseNode(f"w{worker}/{i}", Kind.FILE, i)])
            store.item_errors.record(f"w{worker}/{i}.err", "x")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert store.base_count() == 80
    assert len(store.item_errors.rows()) == 80


def test_writer_commits_while_a_reader_holds_a_snapshot(db_path: Path) -> None:
    with Store.open(db_path) as writer, Store.open(db_path) as reader:
        writer.put_base([OLD])
        with reader.snapshot():
            assert set(reader.base()) == {"old.txt"}
            writer.put_base([NEW])  # does not wait for the reader
            assert set(reader.base()) == {"old.txt"}  # the snapshot stays consistent
        assert set(reader.base()) == {"old.txt", "new.txt"}


def test_opening_for_status_does_not_wait_for_the_writer(db_path: Path) -> None:
    with Store.open(db_path) as writer:
        writer.meta.set_cursor(1)
        with writer.transaction():
            writer.put_base([NEW])
            with Store.open(db_path, create=False) as status:
                assert status.meta.cursor() == 1 and status.base() == {}
