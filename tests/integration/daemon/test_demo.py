"""``syncd demo DIR``: the front door starts, mirrors both ways, and stops on Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading

import httpx

from tests.integration.daemon.daemons import FAST_ENV, eventually


def test_demo_starts_mirrors_and_stops_on_sigint(tmp_path):
    folder, data = tmp_path / "mirror", tmp_path / "demo-data"
    proc = subprocess.Popen(
        [sys.executable, "-m", "syncd", "demo", str(folder), "--data-dir", str(data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **FAST_ENV},
    )
    out: list[str] = []
    err: list[str] = []
    for stream, sink in ((proc.stdout, out), (proc.stderr, err)):
        threading.Thread(target=lambda s=stream, k=sink: k.extend(s), daemon=True).start()
    try:
        eventually(lambda: any("Ctrl-C" in line for line in out), timeout=60, what="the help")
        text = "".join(out)
        match = re.search(r"server (http://\S+), workspace (\S+)", text)
        assert match, text
        url, workspace = match.groups()
        key_file = data / "api-key"
        assert str(key_file) in text and "curl -X PUT" in text and "echo hi >" in text
        key = key_file.read_text().strip()
        assert key not in text and key not in "".join(err)  # the key stays in its file
        eventually(lambda: (folder / "README.txt").is_file(), what="examples mirrored")
        assert (folder / "notes/todo.md").read_text().startswith("# To do")

        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
            put = http.put(f"/api/v1/workspaces/{workspace}/files/from-server.txt", content=b"s")
            assert put.status_code == 204
            eventually(lambda: (folder / "from-server.txt").is_file(), what="server -> folder")
            (folder / "new.txt").write_text("hi\n")

            def uploaded() -> bool:
                answer = http.get(f"/api/v1/workspaces/{workspace}/files/new.txt")
                return answer.status_code == 200 and answer.content == b"hi\n"

            eventually(uploaded, what="folder -> server")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 0, "".join(err[-20:])
        eventually(lambda: any("stopped" in line for line in out), what="goodbye line")
        try:  # the server went with it
            httpx.get(url + "/api/v1/workspaces", timeout=2)
            is_up = True
        except httpx.HTTPError:
            is_up = False
        assert not is_up
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()  # the server dies with it (PR_SET_PDEATHSIG)
                proc.wait(10)
