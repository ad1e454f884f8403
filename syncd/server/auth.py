"""API keys and accounts: keys are random tokens stored only as sha256 hashes.

1. A key is shown once, at creation; the database, logs and errors never hold it.
2. Lookups compare hashes with ``hmac.compare_digest``; an unknown key is ``Unauthorized``.
3. Keys are never revoked, so a key found once may be cached for the process lifetime.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import Connection, Row, insert, select, update
from sqlalchemy.exc import IntegrityError

from syncd.errors import UsageError  # admin commands only: the CLI's exit 2
from syncd.server.schema import accounts, api_keys
from syncd.server.service.errors import Unauthorized
from syncd.server.timefmt import now_iso, today


def new_id(prefix: str) -> str:
    """``a-<random>`` / ``w-<random>``: unguessable, URL-safe, never reused."""
    return f"{prefix}-{secrets.token_hex(8)}"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _new_key(conn: Connection, account_id: str) -> str:
    key = secrets.token_urlsafe(32)
    conn.execute(
        insert(api_keys).values(
            key_hash=hash_key(key), account_id=account_id, create_time=now_iso()
        )
    )
    return key


def create_account(conn: Connection, tag: str) -> tuple[str, str]:
    """Create an account with one key; return (account id, key). A taken tag is UsageError."""
    if not tag or len(tag) > 255 or any(ord(ch) < 0x20 for ch in tag):
        raise UsageError("a tag is 1 to 255 printable characters")
    if conn.execute(select(accounts.c.id).where(accounts.c.tag == tag)).first():
        raise UsageError(f"an account with tag {tag!r} exists already")
    account_id = new_id("a")
    try:
        conn.execute(
            insert(accounts).values(
                id=account_id, tag=tag, create_time=now_iso(), total_active_days=0
            )
        )
    except IntegrityError as exc:
        raise UsageError(f"an account with tag {tag!r} exists already") from exc
    return account_id, _new_key(conn, account_id)


def create_key(conn: Connection, tag: str) -> str:
    """Another key for the account with this tag."""
    row = conn.execute(select(accounts.c.id).where(accounts.c.tag == tag)).first()
    if row is None:
        raise UsageError(f"no account with tag {tag!r}")
    return _new_key(conn, row.id)


def account_for_key(conn: Connection, key: str) -> str:
    """The account id a key belongs to; ``Unauthorized`` for anything else."""
    digest = hash_key(key)
    row = conn.execute(
        select(api_keys.c.key_hash, api_keys.c.account_id).where(api_keys.c.key_hash == digest)
    ).first()
    if row is None or not hmac.compare_digest(row.key_hash, digest):
        raise Unauthorized("unknown API key")
    return row.account_id


def get_account(conn: Connection, account_id: str) -> Row | None:
    return conn.execute(select(accounts).where(accounts.c.id == account_id)).first()


def get_account_by_tag(conn: Connection, tag: str) -> Row | None:
    return conn.execute(select(accounts).where(accounts.c.tag == tag)).first()


def mark_active(conn: Connection, account_id: str) -> None:
    """Count today as an active day (at most one write per account per day)."""
    day = today()
    conn.execute(
        update(accounts)
        .where(accounts.c.id == account_id, accounts.c.last_active_day.is_distinct_from(day))
        .values(last_active_day=day, total_active_days=accounts.c.total_active_days + 1)
    )


def account_json(row: Row) -> dict[str, object]:
    """``AccountResponse`` of seed 000/001."""
    return {
        "id": row.id,
        "tag": row.tag,
        "create_time": row.create_time,
        "last_active_day": row.last_active_day,
        "total_active_days": row.total_active_days,
    }
