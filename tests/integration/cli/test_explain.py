"""End to end: ``syncd explain PATH`` against the real server (full and base-only).

Every explanation is taken between two full snapshots (the folder with contents, inodes
and times, the state directory byte for byte, and the server's listing, contents and
revision), which must be equal: explain changes nothing anywhere. The planned op it
names is then checked against what the real sync does.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from syncd.daemon.lock import FolderLock, lock_path_for
from syncd.soak.harness import ServerProcess, client_argv
from tests.integration.daemon.daemons import FastDaemon, eventually
from tests.support.clients import SyncClient, create_workspace, remote_tree, write
from tests.support.snapshot import disk_snapshot, server_snapshot


@pytest.fixture(params=["full", "base-only"])
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def server(tmp_path: Path, mode: str) -> Iterator[ServerProcess]:
    extra = ["--base-only"] if mode == "base-only" else []
    with ServerProcess(tmp_path / "server", extra_args=extra) as proc:
        yield proc


@pytest.fixture
def make_client(tmp_path: Path, server: ServerProcess) -> Callable[[str], SyncClient]:
    key = server.create_account("alice")
    workspace = create_workspace(server, key)

    def make(name: str) -> SyncClient:
        (tmp_path / name).mkdir(exist_ok=True)
        return SyncClient(server, key, workspace, tmp_path / name, tmp_path / f"state-{name}")

    return make


def everything(client: SyncClient) -> tuple[object, ...]:
    return (
        disk_snapshot(client.folder),
        disk_snapshot(client.state_dir),
        server_snapshot(client.server, client.api_key, client.workspace),
    )


def explain(client: SyncClient, path: str, *args: str, expect: int = 0) -> dict[str, Any]:
    """``syncd explain PATH --json``, checked to have changed nothing."""
    before = everything(client)
    proc = client.run(path, "--json", *args, command="explain")
    assert proc.returncode == expect, proc.stderr
    assert everything(client) == before, "explain changed something"
    return json.loads(proc.stdout)


def explain_text(client: SyncClient, path: str, *args: str, cwd: Path | None = None) -> str:
    env = {**os.environ, "SYNCD_API_KEY": client.api_key, "COLUMNS": "200"}
    argv = client_argv(
        "explain",
        client.server.url,
        client.workspace,
        client.folder,
        client.state_dir,
        path,
        *args,
    )
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def ops_of(info: dict[str, Any]) -> list[str]:
    return [op["text"] for op in info["plan"]["ops"]]


def synced_pair(make_client: Callable[[str], SyncClient]) -> tuple[SyncClient, SyncClient]:
    a, b = make_client("a"), make_client("b")
    write(a.folder / "doc.txt", "version one")
    write(a.folder / "sub/deep.txt", "deep")
    a.sync()
    b.sync()
    a.sync()  # a base-only server confirms the upload by its bytes once
    return a, b


def test_a_synced_file_is_unchanged_with_all_three_sides(make_client, mode):
    a, _ = synced_pair(make_client)

    info = explain(a, "doc.txt")

    assert info["known"] is True
    assert info["local"]["exists"] and info["local"]["type"] == "file"
    assert info["local"]["size"] == len("version one")
    assert info["base"]["size"] == len("version one") and info["base"]["hash"].startswith("sha256:")
    assert info["remote"]["exists"] and info["remote"]["server"] == mode
    assert info["remote"]["size"] == len("version one")
    if mode == "full":
        assert info["remote"]["revision"] == info["base"]["revision"]
        assert info["remote"]["hash"] == info["base"]["hash"]
    assert info["compare"] == {"local": "same", "remote": "same"}
    assert info["plan"]["ops"] == []
    assert info["plan"]["reason"] == "UNCHANGED"
    assert info["ignore"]["ignored"] is False and info["exclude"]["excluded"] is False
    assert info["last_change"]["what"] == "uploaded"
    assert info["mode"]["now"] == "two-way"


def test_a_local_edit_plans_an_upload_and_the_sync_does_it(make_client):
    a, b = synced_pair(make_client)
    write(a.folder / "doc.txt", "version two, edited here")

    info = explain(a, "doc.txt")

    assert info["compare"]["local"] == "changed"
    assert info["compare"]["remote"] == "same"
    assert ops_of(info) == ["op=Upload path=doc.txt reason=LOCAL_CHANGED"]
    assert info["plan"]["reason"] == "LOCAL_CHANGED"
    assert info["local"]["cached_hash_current"] is False  # the cache holds the old version
    a.sync()
    b.sync()
    assert (b.folder / "doc.txt").read_text() == "version two, edited here"
    after = explain(a, "doc.txt")
    assert after["last_change"]["reason"] == "LOCAL_CHANGED"
    assert after["last_change"]["op"] == "Upload"


def test_an_ignored_file_names_its_rule_file_and_line(make_client):
    a, _ = synced_pair(make_client)
    write(a.folder / ".syncdignore", "# build output\n\n*.log\n")
    write(a.folder / "run.log", "noise")
    write(a.folder / "sub/.syncdignore", "private/\n")
    write(a.folder / "sub/private/key.txt", "secret")

    info = explain(a, "run.log")
    nested = explain(a, "sub/private/key.txt")

    assert info["ignore"] == {
        "ignored": True,
        "matched": "run.log",
        "source": ".syncdignore",
        "line": 3,
        "pattern": "*.log",
        "why": None,
        "error": None,
    }
    assert info["plan"]["ops"] == [] and info["plan"]["reason"] == "IGNORED"
    assert nested["ignore"]["source"] == "sub/.syncdignore"
    assert nested["ignore"]["matched"] == "sub/private"  # through its folder
    assert nested["ignore"]["line"] == 1
    assert nested["plan"]["reason"] == "IGNORED"
    text = explain_text(a, "run.log")
    assert "ignored by .syncdignore line 3: *.log" in text


def test_an_excluded_folder_names_the_rule_and_plans_its_removal(make_client):
    a, b = make_client("a"), make_client("b")
    write(a.folder / "photos/cat.jpg", "meow")
    write(a.folder / "keep.txt", "kept")
    a.sync()
    b.sync()
    b.run("add", "photos", command="exclude").check_returncode()

    info = explain(b, "photos/cat.jpg")

    assert info["exclude"] == {
        "excluded": True,
        "rule": "photos",
        "source": "exclude add",
        "below": [],
    }
    assert ops_of(info) == ["op=TrashLocal path=photos reason=EXCLUDED"]
    b.sync()
    assert not (b.folder / "photos").exists()
    assert "cat.jpg" in str(remote_tree(b.server, b.api_key, b.workspace))
    gone = explain(b, "photos/cat.jpg")
    assert gone["plan"]["ops"] == [] and gone["plan"]["reason"] == "EXCLUDED"
    assert gone["remote"]["exists"] is True and gone["local"]["exists"] is False


def test_a_file_only_on_the_server_plans_a_download(make_client):
    a, b = synced_pair(make_client)
    write(b.folder / "new-remote.txt", "from b")
    b.sync()

    info = explain(a, "new-remote.txt")

    assert info["local"]["exists"] is False and info["base"] is None
    assert info["remote"]["exists"] is True and info["remote"]["size"] == len("from b")
    assert info["compare"] == {"local": "absent", "remote": "new"}
    assert ops_of(info) == ["op=Download path=new-remote.txt reason=REMOTE_NEW"]
    a.sync()
    assert (a.folder / "new-remote.txt").read_text() == "from b"


def test_a_local_move_is_explained_as_the_move_a_full_sync_makes(make_client, mode):
    a, _ = synced_pair(make_client)
    os.rename(a.folder / "doc.txt", a.folder / "moved.txt")

    old, new = explain(a, "doc.txt"), explain(a, "moved.txt")

    move = "op=MoveRemote path=doc.txt dest=moved.txt reason=LOCAL_MOVED"
    assert ops_of(old) == ops_of(new) == [move]
    assert old["plan"]["scope"] == "folder"


def test_both_sides_edited_plans_keep_both_and_lists_the_conflict_after(make_client):
    a, b = synced_pair(make_client)
    write(a.folder / "doc.txt", "edited on a")
    a.sync()
    write(b.folder / "doc.txt", "edited on b, longer")

    info = explain(b, "doc.txt")

    assert info["compare"] == {"local": "changed", "remote": "changed"}
    (op,) = info["plan"]["ops"]
    assert op["op"] == "KeepBoth" and op["reason"] == "BOTH_CHANGED"
    assert "conflicted copy" in op["dest"]
    b.sync()
    after = explain(b, "doc.txt")
    (conflict,) = after["conflicts"]
    assert (b.folder / conflict["conflict_path"]).read_text() == "edited on b, longer"
    assert explain(b, conflict["conflict_path"])["conflicts"] == [conflict]


def test_an_unknown_path_says_so_and_exits_0(make_client):
    a, _ = synced_pair(make_client)

    info = explain(a, "no/such/thing.txt")

    assert info["known"] is False
    assert info["plan"]["reason"] == "UNKNOWN" and info["plan"]["ops"] == []
    assert "syncd knows nothing about it" in explain_text(a, "no/such/thing.txt")


def test_a_path_outside_the_folder_is_one_line_and_exit_2(make_client, tmp_path):
    a, _ = synced_pair(make_client)
    for outside in ("../elsewhere.txt", str(tmp_path / "b" / "doc.txt"), "/etc/passwd"):
        proc = a.run(outside, command="explain")
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.count("\n") == 1 and "outside the folder" in proc.stderr
        assert proc.stdout == ""


def test_filesystem_paths_inside_the_folder_name_the_same_path(make_client, tmp_path):
    a, _ = synced_pair(make_client)
    absolute = explain(a, str(a.folder / "sub" / "deep.txt"))
    assert absolute["path"] == "sub/deep.txt"
    from_inside = explain_text(a, "deep.txt", "--json", cwd=a.folder / "sub")
    assert json.loads(from_inside)["path"] == "sub/deep.txt"
    from_outside = explain_text(a, "a/sub/deep.txt", "--json", cwd=tmp_path)
    assert json.loads(from_outside)["path"] == "sub/deep.txt"


def test_works_while_a_daemon_holds_the_folder(make_client):
    a, _ = synced_pair(make_client)
    write(a.folder / "doc.txt", "edited while the daemon runs")
    (db,) = a.state_dir.rglob("*.sqlite3")
    with FolderLock(lock_path_for(db), "syncd run"):
        assert a.run("--dry-run").returncode == 2  # a dry run refuses beside it
        info = explain(a, "doc.txt")
    assert ops_of(info) == ["op=Upload path=doc.txt reason=LOCAL_CHANGED"]


def test_offline_prints_what_is_known_then_exits_4(make_client, tmp_path):
    a, _ = synced_pair(make_client)
    config = tmp_path / "fast.toml"
    config.write_text("max_retries = 0\ntimeout = 2\n")
    write(a.folder / "doc.txt", "edited offline")
    a.server.stop()

    proc = a.run("doc.txt", "--json", "--config", str(config), command="explain")

    assert proc.returncode == 4, proc.stderr
    info = json.loads(proc.stdout)
    assert info["local"]["exists"] is True and info["base"]["size"] == len("version one")
    assert info["compare"]["local"] == "changed" and info["compare"]["remote"] is None
    assert info["remote"]["checked"] is False and "unreachable" in info["remote"]["error"]
    assert info["plan"]["checked"] is False
    assert proc.stderr.strip().splitlines()[-1].startswith("syncd: ")


def test_a_skipped_symlink_is_reported_as_skipped(make_client):
    a, _ = synced_pair(make_client)
    os.symlink("doc.txt", a.folder / "link.txt")
    a.sync()

    info = explain(a, "link.txt")

    assert info["local"]["type"] == "symlink" and info["local"]["link_target"] == "doc.txt"
    assert info["local"]["skipped"]
    assert info["plan"]["ops"] == [] and info["plan"]["reason"] == "SKIPPED"


def test_a_failing_file_shows_its_recorded_error_and_the_op_that_keeps_failing(tmp_path):
    with ServerProcess(tmp_path / "small", extra_args=["--base-only", "--max-body", "1000"]) as srv:
        key = srv.create_account("bob")
        (tmp_path / "f").mkdir()
        a = SyncClient(srv, key, create_workspace(srv, key), tmp_path / "f", tmp_path / "sf")
        write(a.folder / "big.bin", b"x" * 4000)
        a.sync(expect=1)

        info = explain(a, "big.bin")

    (error,) = info["errors"]
    assert error["path"] == "big.bin" and error["count"] == 1
    assert error["reason"].startswith("too large: ")  # the title, then the message
    assert error["reason"].endswith(
        "(raise the server's body limit or enable its upload extension)"
    )
    # nothing synced yet: the first sync's merge is still to finish, so merge rules apply
    assert info["merge_pending"] is True
    assert ops_of(info) == ["op=Upload path=big.bin reason=MERGE_LOCAL_ONLY"]
    assert info["remote"]["exists"] is False and info["base"] is None


def test_works_beside_a_running_daemon_and_names_it(make_client):
    a, _ = synced_pair(make_client)
    daemon = FastDaemon(a.server, a.api_key, a.workspace, a.folder, a.state_dir).start()
    try:
        assert a.run(command="pause").returncode == 0
        daemon.wait_for("event=paused_by_user")
        write(a.folder / "doc.txt", "edited while the daemon is paused")

        def dirty() -> bool:
            answer = a.run("--json", command="status")
            return "doc.txt" in json.loads(answer.stdout)["dirty"]

        eventually(dirty, what="the daemon's watcher recorded doc.txt")
        folder, remote = disk_snapshot(a.folder), server_snapshot(a.server, a.api_key, a.workspace)
        proc = a.run("doc.txt", "--json", command="explain")  # the daemon owns the state dir
        assert proc.returncode == 0, proc.stderr
        assert disk_snapshot(a.folder) == folder
        assert server_snapshot(a.server, a.api_key, a.workspace) == remote
    finally:
        daemon.stop()
    info = json.loads(proc.stdout)
    assert info["daemon"]["running"] is True and info["daemon"]["state"] == "paused"
    assert info["dirty_since"] is not None
    assert ops_of(info) == ["op=Upload path=doc.txt reason=LOCAL_CHANGED"]


def test_the_mode_the_last_sync_ran_is_the_mode_of_the_plan(make_client):
    a, b = synced_pair(make_client)
    a.sync("--mode", "upload-only")
    write(b.folder / "from-b.txt", "new on the server")
    b.sync()

    held = explain(a, "from-b.txt")
    chosen = explain(a, "from-b.txt", "--mode", "two-way")

    assert held["mode"] == {"now": "upload-only", "from": "last sync", "last_pass": "upload-only"}
    assert held["plan"]["ops"] == [] and held["plan"]["reason"] == "HELD_BY_MODE"
    assert chosen["mode"]["now"] == "two-way" and chosen["mode"]["from"] == "option"
    assert ops_of(chosen) == ["op=Download path=from-b.txt reason=REMOTE_NEW"]
