"""The E2 change feed: pages, the long poll, and 410 as ``FeedReset``.

1. ``page`` asks one page; ``iter_pages`` follows ``has_more`` from ``end_revision``.
2. ``wait`` holds the request up to that many seconds (0 to 60); the read timeout is
   stretched by it, so a quiet long poll is not mistaken for a dead connection.
3. On a base-only server there is no feed: revision 0 is answered from the full listing
   (every entry ``created``, ``end_revision`` 0), any other cursor is refused with
   ``InvalidParameter``; callers check ``supported`` and poll ``files.list`` instead.
4. A page that breaks the feed's contract is a ``ServerProtocolError``, never followed:
   ``end_revision`` behind ``from_revision``, ``has_more`` without ``end_revision``
   advancing (following it would ask the same page forever), or entries that contradict
   each other (``consistency.py``; the remote mirror is checked in ``syncd.remote.feed``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

from syncd.errors import InvalidParameter, ServerProtocolError
from syncd.protocol import routes
from syncd.transport.capabilities import CapabilitiesAPI
from syncd.transport.client import Connection
from syncd.transport.consistency import settle
from syncd.transport.errors import parse_answer
from syncd.transport.models import ChangesPage, parse_changes

if TYPE_CHECKING:
    from syncd.transport.files import FilesAPI

MAX_WAIT = 60


class ChangesAPI:
    def __init__(
        self, connection: Connection, capabilities: CapabilitiesAPI, files: FilesAPI
    ) -> None:
        self._connection = connection
        self._capabilities = capabilities
        self._files = files

    @property
    def supported(self) -> bool:
        """True when the server has the change feed (E2)."""
        return self._capabilities.get().changes

    def page(
        self, workspace_id: str, from_revision: int, *, limit: int = 1000, wait: float = 0
    ) -> ChangesPage:
        """Changes after ``from_revision``; ``FeedReset`` when the cursor is gone (410)."""
        if from_revision < 0 or not 1 <= limit <= 10000 or not 0 <= wait <= MAX_WAIT:
            raise InvalidParameter(
                f"feed: from_revision={from_revision} limit={limit} wait={wait} out of range"
            )
        if not self.supported:
            return self._listing_page(workspace_id, from_revision)
        params = {"from_revision": from_revision, "limit": limit}
        if wait:
            params["wait"] = int(wait)
        what = f"GET changes of {workspace_id} from {from_revision}"
        response = self._connection.request(
            "GET",
            routes.url(routes.CHANGES, workspace_id=workspace_id),
            what=what,
            context="feed",
            params=params,
            timeout=self._connection.settings.timeout + wait,
        )
        assert response is not None
        return checked(parse_answer(response, what, parse_changes), from_revision, what)

    def iter_pages(
        self, workspace_id: str, from_revision: int, *, limit: int = 1000
    ) -> Iterator[ChangesPage]:
        """Every page from ``from_revision`` until ``has_more`` is false (no long poll)."""
        cursor = from_revision
        while True:
            page = self.page(workspace_id, cursor, limit=limit)
            yield page
            if not page.has_more:
                return
            cursor = page.end_revision

    def _listing_page(self, workspace_id: str, from_revision: int) -> ChangesPage:
        if from_revision != 0:
            raise InvalidParameter(
                "the server has no change feed (base API only); list the files instead"
            )
        listing = self._files.list(workspace_id)
        return ChangesPage(
            end_revision=0,
            created=list(listing),
            updated=[],
            deleted=[],
            has_more=False,
            rejected=list(listing.rejected),
        )


def checked(page: ChangesPage, from_revision: int, what: str) -> ChangesPage:
    """The page, with agreeing repeats dropped, when it keeps the feed's contract (promise 4)."""
    end = page.end_revision
    if end < from_revision:
        raise ServerProtocolError(
            f"{what}: end_revision {end} is behind from_revision {from_revision}",
            hint="a server whose history changed must answer 410 revision_obsoleted",
        )
    if page.has_more and end <= from_revision:
        raise ServerProtocolError(
            f"{what}: has_more without end_revision advancing past {from_revision}",
            hint="the feed would never end; the server breaks the protocol",
        )
    kept = settle([*page.created, *page.updated], what=what, deleted=[d.path for d in page.deleted])
    if len(kept) == len(page.created) + len(page.updated):
        return page
    ids = {id(entry) for entry in kept}
    return replace(
        page,
        created=[e for e in page.created if id(e) in ids],
        updated=[e for e in page.updated if id(e) in ids],
    )
