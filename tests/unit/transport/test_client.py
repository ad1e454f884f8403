"""The Client's setup: URLs, headers, TLS and HTTP/2 knobs, redaction."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest

from syncd import __version__
from syncd.errors import UsageError
from syncd.protocol import routes
from syncd.transport import Client, TransportSettings
from syncd.transport.client import file_url

KEY = "sk-unit-0123456789"


def test_paths_are_percent_encoded_segment_by_segment() -> None:
    assert file_url("w 1", "a b/ä%?#\\x") == (
        "/api/v1/workspaces/w%201/files/a%20b/%C3%A4%25%3F%23%5Cx"
    )
    upload = routes.url(routes.UPLOAD, workspace_id="w/1", upload_id="u")
    assert upload == "/api/v1/workspaces/w%2F1/uploads/u"


def test_headers_carry_key_and_versioned_user_agent() -> None:
    with Client(TransportSettings("http://h", KEY)) as client:
        headers = client.connection.http.headers
        assert headers["authorization"] == f"Bearer {KEY}"
        assert headers["user-agent"] == f"syncd/{__version__}"
        assert KEY not in repr(client) and KEY not in repr(client.settings)


def test_unreadable_ca_bundle_is_a_usage_error(tmp_path: Path) -> None:
    settings = TransportSettings("https://h", KEY, verify=str(tmp_path / "missing.pem"))
    with pytest.raises(UsageError, match="TLS") as info:
        Client(settings)
    assert KEY not in str(info.value)


@pytest.mark.skipif(importlib.util.find_spec("h2") is not None, reason="h2 is installed")
def test_http2_without_h2_says_what_to_install() -> None:
    with pytest.raises(UsageError, match="h2"):
        Client(TransportSettings("https://h", KEY, http2=True))


def test_verify_off_and_ca_bundle(tmp_path: Path) -> None:
    import ssl

    import certifi

    from syncd.transport.client import _ssl_context

    off = _ssl_context(TransportSettings("https://h", KEY, verify=False))
    assert off.verify_mode is ssl.CERT_NONE and not off.check_hostname
    bundle = _ssl_context(TransportSettings("https://h", KEY, verify=certifi.where()))
    assert bundle.verify_mode is ssl.CERT_REQUIRED and bundle.check_hostname


def test_a_plain_http_server_gets_a_context_that_trusts_nothing() -> None:
    import ssl

    from syncd.transport.client import _ssl_context

    plain = _ssl_context(TransportSettings("http://h", KEY))
    assert plain.verify_mode is ssl.CERT_REQUIRED and plain.check_hostname
    assert plain.get_ca_certs() == []  # no bundle loaded: any TLS peer would be refused
    assert _ssl_context(TransportSettings("https://h", KEY)).get_ca_certs() != []


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_client_certificate_is_loaded(tmp_path: Path) -> None:
    from syncd.transport.client import _ssl_context

    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=syncd",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    _ssl_context(TransportSettings("https://h", KEY, client_cert=(str(cert), str(key))))
    with pytest.raises(UsageError):
        Client(TransportSettings("https://h", KEY, client_cert=str(key)))  # a key is no cert
