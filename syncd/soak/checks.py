"""The invariants a schedule must keep, checked once every client has synced until quiet.

1. Converged: every client tree equals the server's workspace (path -> sha256), no file
   is on one replica only, and no client's last sync left an item it could not sync.
2. No lost version: every version in the ledger that no client deliberately removed is in
   the final tree (conflict copies count) or in some client's trash.
3. No temp file of ours is left in any folder or on the server.
4. Every sync exited with a documented code and never with a traceback: 0, 1 (items
   listed), 4 (only while the server was disturbed), SIGKILL (only when we sent it); the
   world must settle with exit 0 syncs (``schedule.settle``). A daemon never exits on its
   own and stops with 0 on SIGTERM, and its log never shows a traceback.
5. Nothing outside the client folders, state dirs and server data changed.
"""

from __future__ import annotations

from dataclasses import dataclass

from syncd.errors import SyncdError
from syncd.soak.trees import TEMP_PREFIX, local_tree, temp_files, trash_hashes
from syncd.soak.world import Client, Run, World
from syncd.state.store import Store

LOST, DIVERGED, ERROR = "lost", "diverged", "error"
ALLOWED = {0, 1}
BAD_OUTPUT = ("Traceback", "internal error")


@dataclass(frozen=True)
class Failure:
    kind: str  # LOST, DIVERGED or ERROR
    detail: str


def check_run(run: Run) -> Failure | None:
    """One sync's exit code and output against CLI.md."""
    if run.killed:
        return None
    what = "daemon" if run.daemon else "sync"
    for bad in BAD_OUTPUT:
        if bad in run.stderr:
            at = run.stderr.index(bad)
            return Failure(ERROR, f"c{run.client} {what} printed {bad!r}: {run.stderr[at:][:600]}")
    if run.daemon:
        if run.code == 0:
            return None
        return Failure(ERROR, f"c{run.client} daemon exited {run.code}: {_tail(run.stderr)}")
    allowed = ALLOWED | ({4} if run.faulty else set())
    if run.code not in allowed:
        return Failure(ERROR, f"c{run.client} sync exited {run.code}: {_tail(run.stderr)}")
    if run.code == 1 and "could not sync" not in run.stderr:
        return Failure(ERROR, f"c{run.client} exit 1 without listing items: {_tail(run.stderr)}")
    return None


def _tail(text: str, lines: int = 6) -> str:
    return " | ".join(text.strip().splitlines()[-lines:])


def check_world(world: World, remote: dict[str, str], outside_changed: list[str]) -> list[Failure]:
    """Every invariant of the module docstring; one Failure per broken promise."""
    failures = [f for run in world.runs if (f := check_run(run)) is not None]
    final_tree: set[str] = set(remote.values())
    kept: set[str] = set()
    replicas = {"server": remote}
    for client in world.clients:
        tree = local_tree(client.folder)
        replicas[f"c{client.index}"] = tree
        final_tree.update(tree.values())
        kept |= trash_hashes(client.state_dir)
        if tree != remote:
            failures.append(Failure(DIVERGED, f"c{client.index} != server: {_diff(tree, remote)}"))
        if left := temp_files(client.folder):
            failures.append(Failure(ERROR, f"c{client.index} temp files left: {left}"))
        if failed := failed_items(client):
            failures.append(Failure(DIVERGED, f"c{client.index} ended with failed items: {failed}"))
    failures += [Failure(DIVERGED, detail) for detail in _on_one_replica(replicas)]
    if on_server := [p for p in remote if p.rsplit("/", 1)[-1].startswith(TEMP_PREFIX)]:
        failures.append(Failure(ERROR, f"temp files uploaded: {on_server}"))
    for digest, why in sorted(world.ledger.items(), key=lambda kv: kv[1]):
        if digest in world.superseded or digest in final_tree:
            continue
        if digest not in kept:
            failures.append(Failure(LOST, f"version written by {why} is nowhere"))
    if outside_changed:
        failures.append(Failure(ERROR, f"touched outside the folders: {outside_changed[:5]}"))
    return failures


def failed_items(client: Client) -> list[str]:
    """What the client's last sync (or daemon pass) could not sync, from its state database;
    an item that fails for good keeps its version off the other replicas."""
    failed: list[str] = []
    for db in sorted(client.state_dir.glob("*.sqlite3")) if client.state_dir.is_dir() else []:
        try:
            store = Store.open(db, create=False)
        except SyncdError as exc:
            return [f"{db.name}: {exc}"]
        try:
            last = store.meta.last_sync()
            if last is not None and last.result.get("failed"):
                rows = store.item_errors.rows()
                failed += [f"{e.path}: {e.reason}" for e in rows] or [f"{last.result}"]
        finally:
            store.close()
    return failed


def _on_one_replica(replicas: dict[str, dict[str, str]]) -> list[str]:
    """Files that only one of several replicas holds (server and clients): not backed up."""
    if len(replicas) < 2:
        return []
    holders: dict[tuple[str, str], list[str]] = {}
    for name, tree in replicas.items():
        for path, digest in tree.items():
            holders.setdefault((path, digest), []).append(name)
    alone = sorted((names[0], path) for (path, _), names in holders.items() if len(names) == 1)
    return [f"{path!r} is on {name} only" for name, path in alone[:8]]


def _diff(local: dict[str, str], remote: dict[str, str]) -> str:
    only_local = sorted(set(local) - set(remote))
    only_remote = sorted(set(remote) - set(local))
    differ = sorted(p for p in set(local) & set(remote) if local[p] != remote[p])
    return f"only local {only_local}, only server {only_remote}, differ {differ}"
