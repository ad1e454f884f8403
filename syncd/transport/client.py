"""The one door to the server: a pooled httpx client with auth, TLS, limits and retries.

1. One ``Client`` per server: one keep-alive pool (HTTP/2 when asked), shared by every
   thread; the API families (accounts, workspaces, files, changes, uploads, batch) hang
   off it.
2. Every request goes through ``Connection.request``: retry policy (``retry.py``), error
   mapping (``errors.py``), and the API key in a header only, never in a URL, log, repr
   or message: a key that cannot be a header value is refused before any request, and
   every text the transport raises is scrubbed of it (``secret.py``).
3. ``capabilities`` is asked once, lazily; 404 means a base-only server.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import certifi
import httpx

from syncd import __version__
from syncd.errors import SyncdError, UsageError
from syncd.protocol import routes
from syncd.transport.errors import (
    Context,
    error_for_exception,
    error_for_response,
    redact,
)
from syncd.transport.models import Capabilities
from syncd.transport.retry import Attempts, RetryPolicy, Sleep
from syncd.transport.secret import key_problem, remember
from syncd.transport.throttle import Throttle

if TYPE_CHECKING:
    from syncd.transport.uploads import UploadSessionStore

Body = bytes | Iterable[bytes] | None
Resolver = Callable[[SyncdError], bool]


@dataclass(frozen=True)
class TransportSettings:
    """Every knob of the transport; ``syncd.config.Settings.transport()`` builds one."""

    base_url: str
    api_key: str = field(repr=False)
    timeout: float = 30.0
    max_retries: int = 5
    deadline: float = 300.0  # total seconds per call, retries included
    chunk_size: int = 4 * 1024 * 1024
    upload_threshold: int = 8 * 1024 * 1024  # larger files go through upload sessions
    verify: bool | str = True  # or a CA bundle path
    client_cert: str | tuple[str, str] | None = None
    concurrency: int = 4
    bandwidth_limit: int | None = None  # bytes/s, None = unlimited
    user_agent: str = f"syncd/{__version__}"
    http2: bool = False
    backoff_initial: float = 0.5
    backoff_max: float = 30.0

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{f.name}={'***' if f.name == 'api_key' else repr(getattr(self, f.name))}"
            for f in fields(self)
        )
        return f"TransportSettings({shown})"

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_retries=self.max_retries,
            deadline=self.deadline,
            backoff_initial=self.backoff_initial,
            backoff_max=self.backoff_max,
        )


def file_url(workspace_id: str, path: str) -> str:
    """The URL of a workspace path: each segment percent-encoded, ``/`` kept."""
    return routes.url(routes.FILE, workspace_id=workspace_id, file_path=path)


def _ssl_context(settings: TransportSettings) -> ssl.SSLContext:
    """The TLS context: certifi's CAs, or the given bundle, or none; plus a client cert.

    A plain ``http://`` server gets a context that trusts no certificate at all: no request
    of this client goes anywhere else (redirects are not followed), so it is never used,
    and loading certifi's bundle would cost every sync process tens of milliseconds.
    """
    if urlsplit(settings.base_url).scheme == "http":
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies, and trusts nothing
    cafile = settings.verify if isinstance(settings.verify, str) else certifi.where()
    context = ssl.create_default_context(cafile=cafile)
    if settings.verify is False:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    cert = settings.client_cert
    if isinstance(cert, tuple):
        context.load_cert_chain(cert[0], cert[1])
    elif cert is not None:
        context.load_cert_chain(cert)
    return context


class Connection:
    """The pooled httpx client and the policy around it; shared by the API families."""

    def __init__(self, settings: TransportSettings) -> None:
        problem = key_problem(settings.api_key)
        if problem is not None:
            raise UsageError(f"the API key cannot be used: {problem}")
        remember(settings.api_key)
        self.settings = settings
        self.policy = settings.retry_policy()
        self.throttle = Throttle(settings.bandwidth_limit)
        self.slots = threading.BoundedSemaphore(max(1, settings.concurrency))
        if settings.http2:
            try:
                import h2  # noqa: F401
            except ImportError as exc:
                raise UsageError(
                    "http2 needs the 'h2' package: pip install 'httpx[http2]'"
                ) from exc
        pool = max(1, settings.concurrency) + 2  # transfers plus a feed and a listing
        try:
            tls = _ssl_context(settings)
            self.http = httpx.Client(
                base_url=settings.base_url,
                headers={
                    "Authorization": f"Bearer {settings.api_key}",
                    "User-Agent": settings.user_agent,
                },
                timeout=httpx.Timeout(settings.timeout),
                verify=tls,
                http2=settings.http2,
                limits=httpx.Limits(max_connections=pool, max_keepalive_connections=pool),
                follow_redirects=False,
            )
        except (OSError, ValueError, ssl.SSLError) as exc:  # unreadable CA bundle or cert
            raise UsageError(f"TLS setup failed: {redact(str(exc), settings.api_key)}") from exc

    def send(
        self,
        method: str,
        url: str,
        *,
        what: str,
        context: Context,
        ok: tuple[int, ...] = (200, 201, 204),
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: Callable[[], Body] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        """One attempt: send, read the whole answer, map any failure to the error tree."""
        try:
            response = self.http.request(
                method,
                url,
                params=params,
                json=json,
                content=content() if content is not None else None,
                headers=headers,
                timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout,
            )
        except httpx.HTTPError as exc:
            raise error_for_exception(exc, what, self.settings.api_key) from exc
        except httpx.InvalidURL as exc:  # not an HTTPError; the path was checked already
            detail = redact(str(exc), self.settings.api_key)
            raise UsageError(f"{what}: invalid URL: {detail}") from exc
        if response.status_code not in ok:
            raise error_for_response(response, what, context, self.settings.api_key)
        return response

    def request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        context: Context,
        idempotent: bool = True,
        resolve: Resolver | None = None,
        **kwargs: Any,
    ) -> httpx.Response | None:
        """``send`` under the retry policy.

        ``resolve`` is for writes whose retry can meet their own earlier success (a move
        whose first attempt landed answers 404): after an ambiguous attempt, a permanent
        error is handed to ``resolve``; when it returns True the call succeeded and this
        returns None. A request with a resolver may be retried after ambiguous failures.
        """

        def attempt(state: Attempts) -> httpx.Response | None:
            try:
                return self.send(method, url, what=what, context=context, **kwargs)
            except SyncdError as exc:
                if state.ambiguous and resolve is not None and resolve(exc):
                    return None
                raise

        return self.policy.run(attempt, what=what, idempotent=idempotent or resolve is not None)

    def close(self) -> None:
        self.http.close()


class Client:
    """The typed client of PROTOCOL.md; thread-safe, one per server."""

    def __init__(
        self,
        settings: TransportSettings,
        *,
        upload_sessions: UploadSessionStore | None = None,
    ) -> None:
        from syncd.transport.accounts import AccountsAPI
        from syncd.transport.batch import BatchAPI
        from syncd.transport.capabilities import CapabilitiesAPI
        from syncd.transport.changes import ChangesAPI
        from syncd.transport.files import FilesAPI
        from syncd.transport.uploads import MemoryUploadSessionStore, UploadsAPI
        from syncd.transport.workspaces import WorkspacesAPI

        self.settings = settings
        self.connection = Connection(settings)
        self._capabilities = CapabilitiesAPI(self.connection)
        store = upload_sessions if upload_sessions is not None else MemoryUploadSessionStore()
        self.accounts = AccountsAPI(self.connection)
        self.workspaces = WorkspacesAPI(self.connection)
        self.uploads = UploadsAPI(self.connection, store)
        self.files = FilesAPI(self.connection, self._capabilities, self.uploads)
        self.changes = ChangesAPI(self.connection, self._capabilities, self.files)
        self.batch = BatchAPI(self.connection, self._capabilities, self.files)

    @property
    def capabilities(self) -> Capabilities:
        """The server's ``Capabilities`` (asked once; ``Capabilities.base_only()`` on 404)."""
        return self._capabilities.get()

    def sleep_between_retries(self, sleep: Sleep) -> None:
        """Wait between the retries of every later request with ``sleep``: the daemon's
        raises as soon as it is asked to stop, so a stop never waits out a backoff."""
        self.connection.policy = replace(self.connection.policy, sleep=sleep)

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client(base_url={self.settings.base_url!r})"
