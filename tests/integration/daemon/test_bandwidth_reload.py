"""``syncd run`` takes a new bandwidth limit on SIGHUP into its running client."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

from tests.integration.daemon.daemons import eventually


def test_sighup_gives_the_running_transfers_a_new_bandwidth_limit(make_daemon, tmp_path: Path):
    config = tmp_path / "daemon.toml"
    config.write_text("")
    daemon = make_daemon("a", SYNCD_CONFIG=str(config))
    daemon.start()
    config.write_text('bandwidth_limit = "100kB"\n')
    assert daemon.proc is not None
    daemon.proc.send_signal(signal.SIGHUP)
    line = daemon.wait_for("event=reload")
    assert "bandwidth_limit=None->100000" in line and "needs restart" not in line

    data = os.urandom(300_000)
    with daemon.server.client(daemon.api_key) as http:
        put = http.put(f"/api/v1/workspaces/{daemon.workspace}/files/big.bin", content=data)
        assert put.is_success, put.text
    eventually(lambda: (daemon.folder / "big.bin").is_file(), timeout=60, what="download")
    assert (daemon.folder / "big.bin").read_bytes() == data
    assert daemon.stop(signal.SIGTERM) == 0

    # The client's own accounting since the new rate: 300 kB passed, in no less time than
    # 100 kB/s allows (plus the bucket's first second); a slow machine only adds time.
    summary = eventually(
        lambda: next((ln for ln in list(daemon.lines) if "event=bandwidth_limit" in ln), None),
        what="the bandwidth line at stop",
    )
    match = re.search(r"rate=(\S+) passed=(\d+) waited=[0-9.]+s span=([0-9.]+)s", summary)
    assert match, summary
    assert match.group(1) == "100000"
    passed, span = int(match.group(2)), float(match.group(3))
    assert passed >= 300_000 and passed <= 100_000 * (span + 1) * 1.01, (passed, span)
