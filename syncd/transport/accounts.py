"""Accounts API (PROTOCOL.md, base): who the key belongs to, and look-up by tag."""

from __future__ import annotations

from syncd.protocol import routes
from syncd.transport.client import Connection
from syncd.transport.errors import parse_answer
from syncd.transport.models import Account, parse_account


class AccountsAPI:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def get(self, account_id: str = "me") -> Account:
        """The account ``account_id``; ``"me"`` is the key's own account (a cheap auth check)."""
        return self._fetch(
            routes.url(routes.ACCOUNT, account_id=account_id), f"GET account {account_id}"
        )

    def me(self) -> Account:
        return self.get("me")

    def by_tag(self, tag: str) -> Account:
        return self._fetch(routes.url(routes.ACCOUNT_BY_TAG, tag=tag), f"GET account tag {tag}")

    def _fetch(self, url: str, what: str) -> Account:
        response = self._connection.request("GET", url, what=what, context="account")
        assert response is not None
        return parse_answer(response, what, parse_account)
