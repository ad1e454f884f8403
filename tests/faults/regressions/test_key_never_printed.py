"""No output, log line or state row carries the API key, in any spelling a server echoes.

Found by outside testing: a key with a line break was printed by the transport as
``Illegal header value b'Bearer <KEY>\\nsecond line'`` and repeated on every retry, since
redaction knew only the key's plain spelling. Such a key is now refused at load (see
tests/integration/cli); here a hostile server echoes a valid key in every spelling it can
take (plain, as a bytes repr, escaped in a repr of a repr, as JSON, percent-encoded in
either hex case, cut short by the message limit, in part), on answers that ``sync`` and the
daemon retry and log. None of it may reach stderr, stdout or the state database.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, quote_plus

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.faults.test_hostile_server import WS, hostile, sync_against
from tests.integration.daemon.daemons import eventually

__all__ = ["hostile"]

# Printable ASCII that reprs, JSON and percent-encoding all spell differently.
KEY = "sk-Echo\\q'u\"o%2Ft+e/s=~Kx7Qm2Vr9Lp4Zw8"
MIN_FRAGMENT = 8  # a shorter run of the key's characters is not a leak


def _lower_hex(text: str) -> str:
    return re.sub("%[0-9A-F]{2}", lambda m: m.group(0).lower(), text)


def echoed(key: str) -> list[str]:
    """How a server, or a library quoting a request, may print the key; the last one is
    cut by the client's message limit in the middle of the key."""
    bearer = f"Bearer {key}"
    cut = "x" * (300 - len("GET files of w-hostile: 503 unavailable: ") - 10) + key
    return [
        key,
        repr(bearer.encode()),
        repr(repr(key)),
        json.dumps(key),
        json.dumps(json.dumps(key)),
        quote(key, safe=""),
        _lower_hex(quote(key, safe="")),
        quote_plus(key),
        f"{bearer[:24]}...",
        f"...{key[-20:]}",
        cut,
    ]


def spellings(key: str) -> list[str]:
    """The key itself in each of those spellings, with no quotes or prefix around it."""
    return [
        key,
        repr(key.encode())[2:-1],
        repr(repr(key))[1:-1],
        json.dumps(key)[1:-1],
        json.dumps(json.dumps(key))[1:-1],
        quote(key, safe=""),
        _lower_hex(quote(key, safe="")),
        quote_plus(key),
    ]


ATTEMPTS = len(echoed(KEY))  # one retried request per spelling


def echoing() -> Callable[[Request], Response | None]:
    """Answer each GET of the listing with a 503 whose message echoes the key the client
    sent, in the next spelling each time."""
    turn = itertools.count()

    def echo(request: Request) -> Response | None:
        if not request.url.path.endswith("/files"):
            return None
        sent = request.headers.get("authorization", "").removeprefix("Bearer ")
        shown = echoed(sent)[next(turn) % ATTEMPTS]
        return JSONResponse(
            {"error": "unavailable", "message": shown},
            status_code=503,
            headers={"Retry-After": "0"},
        )

    return echo


def leaks(text: str | bytes) -> list[str]:
    """Every run of MIN_FRAGMENT characters of a spelling of KEY that ``text`` holds."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    found = []
    for form in spellings(KEY):
        for i in range(len(form) - MIN_FRAGMENT + 1):
            if form[i : i + MIN_FRAGMENT] in text:
                found.append(form[i : i + MIN_FRAGMENT])
    return found


def state_bytes(state_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(state_dir.rglob("*")) if p.is_file())


def test_sync_prints_no_spelling_of_the_key(hostile, tmp_path):
    app, url = hostile
    app.key = KEY
    app.answer = echoing()
    folder = tmp_path / "folder"
    folder.mkdir()
    for debug in (False, True):  # --debug adds the traceback of the final error
        state = tmp_path / "state"
        proc = sync_against(url, folder, state, key=KEY, debug=debug, retries=ATTEMPTS - 1)
        assert proc.returncode == 4, proc.stderr
        assert proc.stderr.count("retry what=GET files") == ATTEMPTS - 1, proc.stderr
        assert ("Traceback" in proc.stderr) is debug and "***" in proc.stderr
        assert leaks(proc.stderr + proc.stdout) == [], proc.stderr
    assert leaks(state_bytes(tmp_path / "state")) == []


def test_the_daemon_logs_and_stores_no_spelling_of_the_key(hostile, tmp_path):
    app, url = hostile
    app.key = KEY
    app.answer = echoing()
    folder = tmp_path / "folder"
    folder.mkdir()
    state = tmp_path / "state"
    env = {
        **os.environ,
        "SYNCD_API_KEY": KEY,
        "SYNCD_MAX_RETRIES": str(ATTEMPTS - 1),
        "SYNCD_POLL_INTERVAL": "0.2",
        "SYNCD_DEADLINE": "5",
        "PYTHONUNBUFFERED": "1",
    }
    argv = [sys.executable, "-m", "syncd", "run", "--server", url, "--workspace", WS]
    argv += ["--dir", str(folder), "--state-dir", str(state)]
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, env=env)
    lines: list[str] = []

    def read() -> None:
        assert proc.stderr is not None
        lines.extend(proc.stderr)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:  # the daemon retries, gives up, and tries again on its next poll
        eventually(lambda: sum("retry what=GET files" in x for x in lines) >= ATTEMPTS, timeout=60)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        reader.join(10)
    log = "".join(lines)
    assert sum("retry what=GET files" in x for x in lines) >= ATTEMPTS - 1, log
    assert leaks(log) == [], log
    assert leaks(state_bytes(state)) == []
