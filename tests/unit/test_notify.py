"""sd_notify messages reach a real AF_UNIX datagram socket standing in for systemd."""

from __future__ import annotations

import os
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.notify import SystemdNotifier, watchdog_interval


@pytest.fixture
def systemd(monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """A datagram socket in the abstract namespace, announced as NOTIFY_SOCKET."""
    name = f"syncd-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(5)
    monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    yield sock
    sock.close()


def received(sock: socket.socket) -> str:
    return sock.recv(4096).decode("utf-8")


def nothing_waiting(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        sock.recv(4096)
    except BlockingIOError:
        return True
    finally:
        sock.settimeout(5)
    return False


def test_ready_status_stopping_reloading(systemd: socket.socket) -> None:
    notifier = SystemdNotifier()
    assert notifier.is_enabled
    notifier.ready()
    assert received(systemd) == "READY=1"
    notifier.status("syncing 3 files")
    assert received(systemd) == "STATUS=syncing 3 files"
    notifier.ready(status="idle")
    assert received(systemd) == "READY=1\nSTATUS=idle"
    notifier.reloading()
    assert received(systemd) == "RELOADING=1"
    notifier.stopping("stopping: checkpointing uploads")
    assert received(systemd) == "STOPPING=1\nSTATUS=stopping: checkpointing uploads"


def test_watchdog_pings_when_systemd_asks(
    systemd: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    notifier = SystemdNotifier()
    assert notifier.watchdog_interval() == 15.0
    assert watchdog_interval() == 15.0
    notifier.watchdog()
    assert received(systemd) == "WATCHDOG=1"


def test_no_watchdog_pings_unless_asked(systemd: socket.socket) -> None:
    notifier = SystemdNotifier()
    assert notifier.watchdog_interval() is None
    notifier.watchdog()
    assert nothing_waiting(systemd)


@pytest.mark.parametrize(
    ("usec", "pid", "expected"),
    [("2000000", None, 1.0), ("0", None, None), ("junk", None, None), ("2000000", "1", None)],
)
def test_watchdog_interval_from_environment(
    monkeypatch: pytest.MonkeyPatch, usec: str, pid: str | None, expected: float | None
) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", usec)
    if pid is None:
        monkeypatch.delenv("WATCHDOG_PID", raising=False)
    else:
        monkeypatch.setenv("WATCHDOG_PID", pid)  # pid 1 is never this test process
    assert watchdog_interval() == expected


def test_status_is_one_line_of_utf8(systemd: socket.socket) -> None:
    SystemdNotifier().status("café ✓\nREADY=1\x07")
    assert received(systemd) == "STATUS=café ✓ READY=1"


def test_path_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    # A short directory: AF_UNIX paths are limited to about 108 bytes.
    with tempfile.TemporaryDirectory(prefix="sd", dir="/tmp") as tmp:
        path = Path(tmp) / "notify"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(path))
        sock.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        try:
            SystemdNotifier().ready()
            assert received(sock) == "READY=1"
        finally:
            sock.close()


def test_without_notify_socket_everything_is_a_no_op(
    systemd: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET")
    notifier = SystemdNotifier()
    assert not notifier.is_enabled
    notifier.ready()
    notifier.status("idle")
    notifier.watchdog()
    notifier.stopping()
    assert nothing_waiting(systemd)


def test_a_vanished_socket_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", "@syncd-test-nobody-listens-" + uuid.uuid4().hex)
    notifier = SystemdNotifier()
    notifier.ready()
    notifier.status("idle")
    assert notifier.is_enabled
