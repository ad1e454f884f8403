"""TLS in front of a real ``syncd serve``: a throwaway CA, a server certificate, a relay.

The reference server speaks plain HTTP (TLS is the reverse proxy's job, docs/server.md),
so the client's TLS knobs are tested through a small terminator: it accepts TLS on a
loopback port with a certificate of a test CA and pumps the bytes to the server. The
certificates come from the ``openssl`` command; tests skip where it is missing.
"""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

OPENSSL = shutil.which("openssl")
_EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


@dataclass(frozen=True)
class Authority:
    """A test CA (``ca``) and a certificate it signed for 127.0.0.1 (``cert``, ``key``)."""

    ca: Path
    cert: Path
    key: Path


def _openssl(*args: str, cwd: Path) -> None:
    assert OPENSSL is not None
    subprocess.run([OPENSSL, *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_authority(root: Path, name: str = "test") -> Authority:
    """A CA named ``name`` and a server certificate for ``127.0.0.1`` signed by it."""
    root.mkdir(parents=True, exist_ok=True)
    ca, ca_key = f"{name}-ca.pem", f"{name}-ca.key"
    _openssl("req", "-x509", *_EC, "-keyout", ca_key, "-out", ca, "-days", "2",
             "-subj", f"/CN=syncd {name} CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=root)  # fmt: skip
    _openssl("req", *_EC, "-keyout", f"{name}.key", "-out", f"{name}.csr",
             "-subj", "/CN=127.0.0.1", cwd=root)  # fmt: skip
    ext = root / f"{name}.ext"
    ext.write_text(
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        "authorityKeyIdentifier=keyid\n"
    )
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", ca, "-CAkey", ca_key,
             "-CAcreateserial", "-out", f"{name}.pem", "-days", "2",
             "-extfile", ext.name, cwd=root)  # fmt: skip
    return Authority(root / ca, root / f"{name}.pem", root / f"{name}.key")


class TlsTerminator:
    """``https://127.0.0.1:PORT`` in front of an ``http://`` upstream, on its own thread."""

    def __init__(self, upstream_port: int, authority: Authority) -> None:
        self.upstream_port = upstream_port
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(authority.cert, authority.key)
        self.url = ""
        self.handshakes_failed = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    def __enter__(self) -> TlsTerminator:
        self._thread.start()
        listen = asyncio.start_server(self._accept, "127.0.0.1", 0, ssl=self.context)
        self._server = asyncio.run_coroutine_threadsafe(listen, self._loop).result(10)
        self.url = f"https://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        self._loop.set_exception_handler(self._on_error)
        return self

    def __exit__(self, *exc: object) -> None:
        async def close() -> None:
            assert self._server is not None
            self._server.close()
            for task in asyncio.all_tasks() - {asyncio.current_task()}:
                task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _on_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, object]) -> None:
        if isinstance(context.get("exception"), ssl.SSLError):
            self.handshakes_failed += 1  # a client that refused our certificate

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pump(reader, up_writer), _pump(up_reader, writer))


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (OSError, ssl.SSLError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()
