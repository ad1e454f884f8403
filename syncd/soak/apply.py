"""Apply one abstract step to the world, as a user, a crash or a bad network would.

1. A step is resolved against the client's tree as it is now; a step with nothing to act
   on (an edit on an empty folder) is a no-op, so every subset of a schedule still runs.
2. Two spellings of one name (NFC and NFD) may meet anywhere: in one folder of one client
   (a ``twin`` step makes them on purpose; a write, mkdir, rename or move may too) and
   across clients. syncd must sync every spelling.
3. Returns one concrete line per step (``c1 edit 'd/a.txt'``) for the failure report.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

from syncd.soak.faults import Fault
from syncd.soak.steps import Step, content_for, is_folder_name, twin_spellings
from syncd.soak.world import World

STALL_SECONDS = 4.0  # longer than the client timeout of the soak (3 s)
STEP_QUIET_SECONDS = 10.0  # how long a ``sync`` step waits for a daemon client


def _pick(items: list[Path], fraction: float) -> Path | None:
    return items[int(fraction * len(items)) % len(items)] if items else None


def _dirs(world: World, index: int) -> list[Path]:
    return [world.clients[index].folder] + [p for p in world.client_entries(index) if p.is_dir()]


def _rel(world: World, index: int, path: Path) -> str:
    return repr(path.relative_to(world.clients[index].folder).as_posix())


def apply(world: World, seed: int, step: Step) -> str:
    """Carry out ``step``; return what it concretely did."""
    c = step.client
    head = f"c{c} {step.kind}"
    if step.kind == "sync" and world.is_daemon(c):
        took = world.await_quiet(c, STEP_QUIET_SECONDS)
        return f"c{c} daemon " + (f"quiet after {took:.1f}s" if took is not None else "busy")
    if step.kind == "sync":
        run = world.sync(c)
        return f"{head} -> exit {run.code}"
    if step.kind == "kill" and world.is_daemon(c):
        hit = world.kill_daemon(c, delay=0.1 + 1.5 * step.target)
        return f"c{c} daemon killed after {0.1 + 1.5 * step.target:.2f}s (alive: {hit}), restarted"
    if step.kind == "kill":
        run = world.kill_sync(c, delay=0.3 + 1.5 * step.target)
        return f"{head} after {0.3 + 1.5 * step.target:.2f}s -> killed={run.killed} exit {run.code}"
    if step.kind == "fault":
        return "server " + arm_fault(world, step)
    if step.kind == "restart":
        world.restart_server()
        return "server restart"
    if step.kind == "backup":
        world.take_backup()
        return "server backup"
    if step.kind == "restore":
        return "server restore" if world.restore_backup() else "server restore (no backup: no-op)"
    try:
        return head + " " + _apply_local(world, seed, step)
    except FileNotFoundError:
        if not world.is_daemon(c):
            raise
        return head + " (its target vanished under the daemon: no-op)"


def _apply_local(world: World, seed: int, step: Step) -> str:
    c = step.client
    files = [p for p in world.client_entries(c) if p.is_file()]
    every = world.client_entries(c)
    if step.kind == "twin":
        return _twin(world, seed, step)
    if step.kind in ("write", "mkdir"):
        parent = _pick(_dirs(world, c), step.target)
        assert parent is not None
        path = parent / step.name
        if path.exists() and path.is_dir() != (step.kind == "mkdir"):
            return f"{_rel(world, c, path)} (blocked: no-op)"
        if step.kind == "mkdir":
            path.mkdir(exist_ok=True)
        else:
            world.write(c, path, content_for(seed, step), f"step {step.uid}")
        return _rel(world, c, path)
    if step.kind in ("edit", "touch"):
        path = _pick(files, step.pick)
        if path is None:
            return "(no file: no-op)"
        if step.kind == "edit":
            world.write(c, path, content_for(seed, step), f"step {step.uid}")
        else:
            stat = path.stat()
            os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        return _rel(world, c, path)
    path = _pick(every, step.pick)
    if path is None:
        return "(empty: no-op)"
    if step.kind == "delete":
        world.delete(c, path)
        return _rel(world, c, path)
    if step.kind == "rename":
        dest = path.parent / step.name
    else:  # move into another folder, keeping the name
        dirs = [d for d in _dirs(world, c) if d != path and path not in d.parents]
        target = _pick(dirs, step.target)
        assert target is not None
        dest = target / path.name
    if dest == path or not world.move(c, path, dest):
        return f"{_rel(world, c, path)} -> {_rel(world, c, dest)} (blocked: no-op)"
    return f"{_rel(world, c, path)} -> {_rel(world, c, dest)}"


def _twin(world: World, seed: int, step: Step) -> str:
    """Write the step's name in one or both spellings into one folder: a file, or a folder
    holding one file (its versions are told apart by the spelling)."""
    c = step.client
    parent = _pick(_dirs(world, c), step.target)
    assert parent is not None
    done = []
    for form in twin_spellings(step):
        path = parent / unicodedata.normalize(form, step.name)
        data = content_for(seed, step, form)
        if is_folder_name(step.name):
            if path.exists() and not path.is_dir():
                done.append(f"{_rel(world, c, path)} {form} (blocked: no-op)")
                continue
            path.mkdir(exist_ok=True)
            world.write(c, path / "inner.txt", data, f"step {step.uid} {form}")
        else:
            if path.is_dir():
                done.append(f"{_rel(world, c, path)} {form} (blocked: no-op)")
                continue
            world.write(c, path, data, f"step {step.uid} {form}")
        done.append(f"{_rel(world, c, path)} {form}")
    return ", ".join(done)


def arm_fault(world: World, step: Step) -> str:
    """Arm one proxy fault for the next matching requests (a fraction of them, seeded)."""
    assert world.proxy is not None
    where = (None, r"/files", r"/changes", r"/uploads", r"/files/")[int(step.target * 5) % 5]
    times = 1 + int(step.pick * 3)
    kind = step.fault
    if kind in ("status500", "status503"):
        status = 500 if kind == "status500" else 503
        retry = 0.2 if status == 503 else None
        fault = Fault("status", path=where, times=times, status=status, retry_after=retry)
    elif kind == "stall":
        fault = Fault("stall", path=where, times=1, delay=STALL_SECONDS)
    else:
        fault = Fault(kind, path=where, times=times, after_bytes=int(step.pick * 200))
    world.proxy.add(fault)
    world.disturbed = True
    return f"fault {kind} path={where} times={fault.times}"
