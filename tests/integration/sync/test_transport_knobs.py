"""The connection's flags, end to end: TLS trust, a timeout, the bandwidth limit.

TLS goes through a terminator with a test CA's certificate in front of the real server
(``tests/support/tls.py``), the timeout through the fault proxy's stall, and the
bandwidth limit is read from the client's own accounting (``event=bandwidth_limit``), so
no assertion depends on how busy the machine is.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from syncd.soak.faults import Fault
from syncd.soak.harness import ServerProcess, client_argv
from syncd.soak.proxy import FaultProxy
from tests.support.clients import create_workspace, local_tree, remote_tree, write
from tests.support.tls import OPENSSL, TlsTerminator, make_authority

needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="the openssl command is missing")


def run_sync(
    url: str, key: str, workspace: str, root: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    (root / "folder").mkdir(parents=True, exist_ok=True)
    argv = client_argv("sync", url, workspace, root / "folder", root / "state", *args)
    env = {**os.environ, "SYNCD_API_KEY": key}
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)


def accounting(stderr: str) -> tuple[int, int, float]:
    """(rate, bytes passed, seconds spanned) of the run's ``event=bandwidth_limit`` line."""
    match = re.search(
        r"event=bandwidth_limit rate=(\d+) passed=(\d+) waited=[0-9.]+s span=([0-9.]+)s", stderr
    )
    assert match, stderr
    return int(match.group(1)), int(match.group(2)), float(match.group(3))


def holds(rate: int, passed: int, span: float) -> bool:
    """The limit held: no more passed than the rate allows in the span, plus the one
    second a full bucket holds (``throttle.py``); a slow machine only widens the span."""
    return passed <= rate * (span + 1) * 1.01


@needs_openssl
def test_tls_trust_follows_ca_bundle_and_no_verify_tls(server: ServerProcess, tmp_path: Path):
    key = server.create_account("tls")
    workspace = create_workspace(server, key)
    good = make_authority(tmp_path / "pki", "good")
    wrong = make_authority(tmp_path / "pki", "wrong")
    write(tmp_path / "a" / "folder" / "hello.txt", "over TLS\n")
    with TlsTerminator(server.port, good) as tls:
        refused = run_sync(tls.url, key, workspace, tmp_path / "a", "--ca-bundle", str(wrong.ca))
        assert refused.returncode == 4, refused.stderr
        last = refused.stderr.strip().splitlines()[-1]
        assert "TLS certificate check failed" in last and "--ca-bundle" in last, last
        assert "Traceback" not in refused.stderr
        assert remote_tree(server, key, workspace) == {}

        trusted = run_sync(tls.url, key, workspace, tmp_path / "a", "--ca-bundle", str(good.ca))
        assert trusted.returncode == 0, trusted.stderr
        assert set(remote_tree(server, key, workspace)) == {"hello.txt"}

        # the wrong CA from the config file, overridden for this run by --no-verify-tls
        config = tmp_path / "b.toml"
        config.write_text(f'ca_bundle = "{wrong.ca}"\n')
        unverified = run_sync(
            tls.url, key, workspace, tmp_path / "b", "--config", str(config), "--no-verify-tls"
        )
        assert unverified.returncode == 0, unverified.stderr
        assert set(local_tree(tmp_path / "b" / "folder")) == {"hello.txt"}


def test_a_missing_ca_bundle_is_bad_usage(server: ServerProcess, tmp_path: Path) -> None:
    proc = run_sync(server.url, "k", "w", tmp_path, "--ca-bundle", str(tmp_path / "no.pem"))
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"syncd: --ca-bundle: no such file: {tmp_path / 'no.pem'}"


def test_bad_bandwidth_limit_is_one_line_exit_2(server: ServerProcess, tmp_path: Path) -> None:
    proc = run_sync(server.url, "k", "w", tmp_path, "--bandwidth-limit", "10x")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "--bandwidth-limit: expected a size" in proc.stderr


def test_timeout_ends_a_stalled_request_in_time(server: ServerProcess, tmp_path: Path) -> None:
    key = server.create_account("stall")
    workspace = create_workspace(server, key)
    with FaultProxy(server.url) as proxy:
        proxy.add(Fault("stall", times=None, delay=None))  # every request, for good
        started = time.monotonic()
        proc = run_sync(proxy.url, key, workspace, tmp_path, "--timeout", "1", "--max-retries", "0")
        elapsed = time.monotonic() - started
    assert proc.returncode == 4, proc.stderr
    assert "timed out" in proc.stderr
    # The default (30 s, 5 retries) would take minutes; a generous bound for a busy box.
    assert elapsed < 30, elapsed


def test_bandwidth_limit_holds_both_directions(make_client, tmp_path: Path) -> None:
    """300 kB each way at 100 kB/s: the client's own accounting shows the bytes passed in
    no less time than the limit allows; by plain GET/PUT on base-only, batches on full."""
    up = make_client("up")
    write(up.folder / "up.bin", os.urandom(300_000))
    rate, passed, span = accounting(up.sync("--bandwidth-limit", "100kB").stderr)
    assert rate == 100_000 and passed >= 300_000 and holds(rate, passed, span), (passed, span)

    down = make_client("down")
    rate, passed, span = accounting(down.sync("--bandwidth-limit", "100kB").stderr)
    assert rate == 100_000 and passed >= 300_000 and holds(rate, passed, span), (passed, span)
    assert down.tree() == up.tree()

    unlimited = make_client("unlimited")
    assert "event=bandwidth_limit" not in unlimited.sync().stderr
