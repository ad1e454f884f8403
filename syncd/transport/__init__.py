"""The client transport: the only code that knows URLs, headers and status codes.

    Client ─ accounts / workspaces / files / changes / uploads   (one class per API family)
      └─ Connection: pooled httpx + auth + TLS ─ retry.py (tenacity) ─ errors.py (-> syncd.errors)

Above it the engine speaks in typed values (``models.py``) and typed errors.
"""

from syncd.transport.client import Client, TransportSettings
from syncd.transport.models import (
    Account,
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
    "Capabilities",
    "ChangesPage",
    "Client",
    "CountingProgress",
    "Deleted",
    "DownloadResult",
    "Entry",
    "ListResult",
    "MemoryUploadSessionStore",
    "PerTransfer",
    "Progress",
    "TransportSettings",
    "UploadResult",
    "UploadSession",
    "UploadSessionStore",
    "Workspace",
]
