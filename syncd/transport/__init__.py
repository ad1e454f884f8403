"""The client transport: the only code that knows URLs, headers and status codes.

    Client ─ accounts / workspaces / files / changes / uploads / batch   (one per API family)
      └─ Connection: pooled httpx + auth + TLS ─ retry.py (tenacity) ─ errors.py (-> syncd.errors)

Above it the engine speaks in typed values (``models.py``) and typed errors.
The names below are loaded on first use (PEP 562), so importing a light submodule such as
``syncd.transport.secret`` does not pay for httpx and the whole client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from syncd.transport.httpx_cli import keep_out

keep_out()  # before any module of this package imports httpx

if TYPE_CHECKING:
    from syncd.transport.batch_items import (
        BatchItem,
        BatchResult,
        DeletePath,
        MakeDir,
        PutFile,
        WriteResult,
        WriteState,
    )
    from syncd.transport.batch_read import BatchRead, ReadItem
    from syncd.transport.client import Client, TransportSettings
    from syncd.transport.models import (
        Account,
        BatchLimits,
        Capabilities,
        ChangesPage,
        Deleted,
        DownloadResult,
        Entry,
        ListResult,
        UploadResult,
        UploadSession,
        Workspace,
    )
    from syncd.transport.progress import CountingProgress, PerTransfer, Progress
    from syncd.transport.uploads import MemoryUploadSessionStore, UploadSessionStore

_EXPORTS: dict[str, str] = {
    "Account": "syncd.transport.models",
    "BatchItem": "syncd.transport.batch_items",
    "BatchLimits": "syncd.transport.models",
    "BatchRead": "syncd.transport.batch_read",
    "BatchResult": "syncd.transport.batch_items",
    "Capabilities": "syncd.transport.models",
    "ChangesPage": "syncd.transport.models",
    "Client": "syncd.transport.client",
    "CountingProgress": "syncd.transport.progress",
    "DeletePath": "syncd.transport.batch_items",
    "Deleted": "syncd.transport.models",
    "DownloadResult": "syncd.transport.models",
    "Entry": "syncd.transport.models",
    "ListResult": "syncd.transport.models",
    "MakeDir": "syncd.transport.batch_items",
    "MemoryUploadSessionStore": "syncd.transport.uploads",
    "PerTransfer": "syncd.transport.progress",
    "Progress": "syncd.transport.progress",
    "PutFile": "syncd.transport.batch_items",
    "ReadItem": "syncd.transport.batch_read",
    "TransportSettings": "syncd.transport.client",
    "UploadResult": "syncd.transport.models",
    "UploadSession": "syncd.transport.models",
    "UploadSessionStore": "syncd.transport.uploads",
    "Workspace": "syncd.transport.models",
    "WriteResult": "syncd.transport.batch_items",
    "WriteState": "syncd.transport.batch_items",
}

__all__ = [
    "Account",
    "BatchItem",
    "BatchLimits",
    "BatchRead",
    "BatchResult",
    "Capabilities",
    "ChangesPage",
    "Client",
    "CountingProgress",
    "DeletePath",
    "Deleted",
    "DownloadResult",
    "Entry",
    "ListResult",
    "MakeDir",
    "MemoryUploadSessionStore",
    "PerTransfer",
    "Progress",
    "PutFile",
    "ReadItem",
    "TransportSettings",
    "UploadResult",
    "UploadSession",
    "UploadSessionStore",
    "Workspace",
    "WriteResult",
    "WriteState",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
