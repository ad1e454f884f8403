"""The harness itself: same seed same steps, the checks catch a loss, the shrinker shrinks."""

from __future__ import annotations

import hashlib
import unicodedata
from pathlib import Path

from syncd.soak import schedule
from syncd.soak.apply import apply
from syncd.soak.checks import DIVERGED, LOST, Failure, check_world
from syncd.soak.schedule import Options, Result, shrink
from syncd.soak.steps import Step, content_for, generate
from syncd.soak.world import Client, Run, World
from syncd.state.store import Store


def test_same_seed_same_steps_and_contents():
    assert generate(7, 30) == generate(7, 30)
    assert generate(7, 30) != generate(8, 30)
    step = generate(7, 30)[0]
    assert content_for(7, step) == content_for(7, step)
    assert content_for(7, step) != content_for(8, step)


def _world(tmp_path: Path) -> World:
    world = World(tmp_path, base_only=False)
    for i in range(2):
        (tmp_path / f"c{i}").mkdir()
        world.clients.append(Client(i, tmp_path / f"c{i}", tmp_path / f"state-c{i}"))
    return world


def test_checks_find_a_lost_version_and_accept_a_trashed_one(tmp_path):
    world = _world(tmp_path)
    world.write(0, world.clients[0].folder / "a.txt", b"v1", "step 1")
    world.write(0, world.clients[0].folder / "a.txt", b"v2", "step 2")  # v1 seen, overwritten
    world.write(1, world.clients[1].folder / "b.txt", b"only on c1", "step 3")
    (world.clients[1].folder / "b.txt").unlink()  # gone without the user deleting it
    (world.clients[1].folder / "a.txt").write_bytes(b"v2")
    remote = {"a.txt": "f" * 64}
    failures = check_world(world, remote, [])
    assert Failure(LOST, "version written by step 3 is nowhere") in failures
    assert not any("step 1" in f.detail for f in failures)
    assert {f.kind for f in failures} == {LOST, DIVERGED}
    trash = world.clients[1].state_dir / "x.trash" / "2026-01-01" / "000000-ab"
    trash.mkdir(parents=True)
    (trash / "b.txt").write_bytes(b"only on c1")
    assert not [f for f in check_world(world, remote, []) if f.kind == LOST]


def test_checks_count_a_failed_item_and_a_file_on_one_replica_as_diverged(tmp_path):
    """Both used to pass as long as the trees compared equal under NFC keys."""
    world = _world(tmp_path)
    digest = hashlib.sha256(b"x").hexdigest()
    for client in world.clients:
        (client.folder / "a.txt").write_bytes(b"x")
    store = Store.open(world.clients[1].state_dir / "c1.sqlite3")
    store.meta.record_sync({"failed": 1})
    store.item_errors.record("b\u0301.txt", "could not be synced")
    store.close()
    failures = check_world(world, {"a.txt": digest}, [])
    assert failures == [
        Failure(DIVERGED, "c1 ended with failed items: ['b\u0301.txt: could not be synced']")
    ]
    (world.clients[0].folder / "only.txt").write_bytes(b"mine alone")
    details = [f.detail for f in check_world(world, {"a.txt": digest}, []) if f.kind == DIVERGED]
    assert "'only.txt' is on c0 only" in details


def test_twin_steps_write_both_spellings_of_a_name_on_one_client(tmp_path):
    world = _world(tmp_path)
    folder = world.clients[0].folder
    both = Step(1, "twin", 0, pick=0.6, target=0.0, name=unicodedata.normalize("NFC", "café.txt"))
    apply(world, 5, both)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        unicodedata.normalize(f, "café.txt") for f in ("NFC", "NFD")
    )
    folders = Step(2, "twin", 0, pick=0.9, target=0.0, name=unicodedata.normalize("NFC", "Ünïcode"))
    apply(world, 5, folders)
    inner = {p.read_bytes() for p in folder.glob("*/inner.txt")}
    assert len(inner) == 2  # two versions, one in each spelling of the folder
    assert len(world.ledger) == 4


def test_checks_refuse_tracebacks_and_undocumented_exit_codes(tmp_path):
    world = _world(tmp_path)
    world.runs = [
        Run(0, 1, "Traceback (most recent call last):"),
        Run(1, 4, "server unreachable"),
        Run(1, 4, "server unreachable", faulty=True),
        Run(0, -9, "", killed=True),
    ]
    failures = check_world(world, {}, [])
    assert len(failures) == 2, failures


def test_checks_want_a_daemon_to_stop_with_0_and_a_clean_log(tmp_path):
    world = _world(tmp_path)
    world.runs = [
        Run(0, 0, "INFO syncd.daemon event=state state=idle", daemon=True),
        Run(0, -9, "", killed=True, faulty=True, daemon=True),
        Run(1, 1, "ERROR event=sync_failed", daemon=True),
        Run(1, 0, "ERROR x\nTraceback (most recent call last):\n  File", daemon=True),
    ]
    details = [f.detail for f in check_world(world, {}, [])]
    assert len(details) == 2, details
    assert "c1 daemon exited 1" in details[0]
    assert "c1 daemon printed 'Traceback'" in details[1]


def test_a_daemon_clients_writes_tell_the_ledger_what_they_displaced(tmp_path):
    world = _world(tmp_path)
    world.quarantine.mkdir()
    world.clients[0].daemon = object()  # only its presence matters to write/delete/move
    folder = world.clients[0].folder
    world.write(0, folder / "d" / "a.txt", b"v1", "step 1")
    (folder / "d" / "a.txt").write_bytes(b"v1 replaced by a sync")  # what a daemon would do
    world.write(0, folder / "d" / "a.txt", b"v2", "step 2")
    assert (folder / "d" / "a.txt").read_bytes() == b"v2"
    assert world.move(0, folder / "d" / "a.txt", folder / "b.txt")
    (folder / "c.txt").write_bytes(b"taken")
    assert not world.move(0, folder / "b.txt", folder / "c.txt")  # never replaces
    world.delete(0, folder / "b.txt")
    seen = {hashlib.sha256(b).hexdigest() for b in (b"v1 replaced by a sync", b"v2")}
    assert seen <= world.superseded
    assert hashlib.sha256(b"v1").hexdigest() not in world.superseded
    assert list(world.quarantine.iterdir()) == []  # displaced entries are cleaned up
    assert sorted(p.name for p in folder.iterdir()) == ["c.txt", "d"]


def test_shrink_keeps_only_the_steps_that_matter(monkeypatch):
    steps = generate(3, 12)
    culprits = {steps[4].uid, steps[9].uid}

    def fake_run(seed: int, candidate: list, options: Options) -> Result:
        failing = culprits <= {s.uid for s in candidate}
        failures = [Failure(LOST, "x")] if failing else []
        return Result(seed, list(candidate), False, failures)

    monkeypatch.setattr(schedule, "run_schedule", fake_run)
    result = shrink(fake_run(3, steps, Options()), Options(), budget=40)
    assert result.minimal is not None
    assert {s.uid for s in result.minimal} == culprits
