"""Database URLs in messages: the password never shows, whichever way it was written."""

from __future__ import annotations

import pytest

from syncd.server.db import redact, scrub


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://syncd:pw@db/syncd", "postgresql://syncd:***@db/syncd"),
        ("postgresql://syncd:p@ss@db:5432/syncd", "postgresql://syncd:***@db:5432/syncd"),
        (
            "postgresql://syncd@db/syncd?password=pw&sslmode=require",
            "postgresql://syncd@db/syncd?password=***&sslmode=require",
        ),
        (
            "postgresql://syncd@/syncd?host=/run/postgresql",
            "postgresql://syncd@/syncd?host=/run/postgresql",
        ),
        ("sqlite:////srv/syncd/syncd.db", "sqlite:////srv/syncd/syncd.db"),
    ],
)
def test_redact_hides_the_password(url: str, shown: str) -> None:
    assert redact(url) == shown


def test_scrub_hides_each_piece_a_driver_may_quote() -> None:
    url = "postgresql://u:sek@ret@db/x?password=other"
    text = "failed to resolve host 'ret@db'; password sek@ret; other"
    cleaned = scrub(text, url)
    assert "sek" not in cleaned and "ret" not in cleaned and "other" not in cleaned
    assert scrub("nothing secret here", "sqlite:////x.db") == "nothing secret here"
