"""The client transport: the only code that knows URLs, headers and status codes.

    Client ─ accounts / workspaces / files / changes / uploads / batch   (one per API family)
      └─ Connection: pooled httpx + auth + TLS ─ retry.py (tenacity) ─ errors.py (-> syncd.errors)

Above it the engine speaks in typed values (``models.py``) and typed errors.
"""

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
