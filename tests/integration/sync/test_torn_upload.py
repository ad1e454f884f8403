"""End to end: a file that changes while it is being uploaded is never committed torn."""

from __future__ import annotations

import hashlib
import os
from types import SimpleNamespace

import pytest

from syncd.soak.proxy import Fault, FaultProxy
from tests.support.clients import SyncClient, remote_tree, write


def test_file_changed_during_upload_is_not_committed_torn(
    make_client, sync_server, account, mode, tmp_path
):
    if mode == "base-only":
        pytest.skip("a single PUT has no chunk boundary to change the file at")
    key, workspace = account
    direct = make_client("a")
    first = os.urandom(12 * 1024 * 1024)
    second = os.urandom(12 * 1024 * 1024)
    write(direct.folder / "video.bin", first)

    def edit_between_chunks() -> None:
        write(direct.folder / "video.bin", second)

    with FaultProxy(sync_server.url, seed=7) as proxy:
        # the first chunk reaches the server only after the file was rewritten on disk
        proxy.add(
            Fault("hook", method="PUT", path=r"/uploads/.*offset=0", hook=edit_between_chunks)
        )
        through_proxy = SyncClient(
            server=SimpleNamespace(url=proxy.url),
            api_key=key,
            workspace=workspace,
            folder=direct.folder,
            state_dir=direct.state_dir,
        )
        proc = through_proxy.sync(expect=1)
    assert "video.bin" in proc.stderr
    assert "video.bin" not in remote_tree(sync_server, key, workspace)  # nothing torn
    direct.sync()
    expected = hashlib.sha256(second).hexdigest()
    assert remote_tree(sync_server, key, workspace) == {"video.bin": expected}
