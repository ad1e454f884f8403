"""Workspace backups: one self-contained tar file per snapshot, and their restore.

1. A backup is consistent: its manifest is read in one transaction, with the workspace
   held (``storage.hold``), and the blobs it names are pinned (collection skips them)
   until they are copied, so running servers can go on.
2. The file is written under a temp name, fsynced and renamed: a crash leaves no half backup.
3. A restore gives the workspace back its id, contents and name, and starts a new revision
   lineage: the revision and the history floor jump above every revision ever issued, so
   every older cursor answers 410 and no revision number is reused.
4. ``DELETE`` of a workspace writes its backup in the same transaction that deletes it.
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import tarfile
from pathlib import Path

from sqlalchemy import Connection, delete, insert, select, update

from syncd.errors import UsageError  # admin commands only: the CLI's exit 2
from syncd.server import entries, storage, strictjson
from syncd.server import uploads as sessions
from syncd.server.blobs import Blobs, private_opener
from syncd.server.db import Database
from syncd.server.schema import accounts, backups, blob_pins, workspaces
from syncd.server.schema import entries as entries_table
from syncd.server.schema import uploads as uploads_table
from syncd.server.service.errors import InvalidParameter, workspace_path
from syncd.server.timefmt import later_iso, now_iso

FORMAT = "syncd-workspace-backup/1"
HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _manifest(conn: Connection, workspace_id: str, include_deleted: bool = False) -> dict:
    query = select(workspaces).where(workspaces.c.id == workspace_id)
    if not include_deleted:
        query = query.where(workspaces.c.deleted_time.is_(None))
    ws = conn.execute(query).first()
    if ws is None:
        raise UsageError(f"no workspace {workspace_id!r}")
    account = conn.execute(select(accounts).where(accounts.c.id == ws.account_id)).one()
    rows = entries.list_entries(conn, workspace_id)
    return {
        "format": FORMAT,
        "create_time": now_iso(),
        "account": {"id": account.id, "tag": account.tag, "create_time": account.create_time},
        "workspace": {
            "id": ws.id,
            "name": ws.name,
            "create_time": ws.create_time,
            "modified_time": ws.modified_time,
            "revision": ws.revision,
        },
        "entries": [
            {
                "path": row.path,
                "type": row.type,
                "size": row.size,
                "hash": row.hash,
                "modified_time": row.modified_time,
            }
            for row in rows
        ],
    }


def _write_tar(manifest: dict, blobs: Blobs, conn: Connection, target: Path) -> None:
    """PROMISE 2: temp name, fsync, rename; the manifest comes first in the archive.

    ``conn`` reads the blobs kept in the database; the others are copied from their files.
    """
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
    try:
        with open(temp, "xb", opener=private_opener) as raw:
            with tarfile.open(fileobj=raw, mode="w") as tar:
                data = json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8")
                info = tarfile.TarInfo("manifest.json")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
                seen: set[str] = set()
                for entry in manifest["entries"]:
                    digest = entry["hash"]
                    if digest and digest not in seen:
                        seen.add(digest)
                        inline = blobs.inline_bytes(conn, digest)
                        info = tarfile.TarInfo(f"blobs/{digest}")
                        if inline is None:
                            with blobs.open(digest) as handle:
                                info.size = entry["size"]
                                tar.addfile(info, handle)
                            continue
                        info.size = len(inline)
                        tar.addfile(info, io.BytesIO(inline))
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


def _record(conn: Connection, manifest: dict, target: Path, reason: str) -> None:
    items = manifest["entries"]
    conn.execute(
        insert(backups).values(
            workspace_id=manifest["workspace"]["id"],
            name=manifest["workspace"]["name"],
            file=str(target.resolve()),
            reason=reason,
            revision=manifest["workspace"]["revision"],
            entry_count=len(items),
            size=sum(item["size"] or 0 for item in items),
            create_time=manifest["create_time"],
        )
    )


def backup_workspace(db: Database, blobs: Blobs, workspace_id: str, target: Path) -> dict:
    """A consistent snapshot of one workspace into ``target`` (PROMISES 1 and 2)."""
    holder = secrets.token_hex(8)
    with db.write() as conn:
        storage.hold(conn, workspace_id)  # no last reference drops before the pins
        manifest = _manifest(conn, workspace_id)
        hashes = {item["hash"] for item in manifest["entries"] if item["hash"]}
        expires = later_iso(24 * 3600)
        if hashes:
            conn.execute(
                insert(blob_pins),
                [{"hash": h, "holder": holder, "expires_time": expires} for h in hashes],
            )
    try:
        with db.read() as conn:  # a snapshot: writers go on, pinned blobs stay
            _write_tar(manifest, blobs, conn, target)
    finally:
        with db.write() as conn:
            conn.execute(delete(blob_pins).where(blob_pins.c.holder == holder))
            if os.path.exists(target):
                _record(conn, manifest, target, "manual")
            blobs.collect(conn)
    return manifest


def delete_with_backup(
    db: Database,
    blobs: Blobs,
    backup_dir: Path,
    upload_dir: Path,
    account_id: str,
    workspace_id: str,
) -> Path:
    """``DELETE`` of a workspace: back it up, then delete it, in one transaction."""
    with db.write() as conn:
        storage.get_workspace(conn, account_id, workspace_id)
        storage.hold(conn, workspace_id, exclusive=True)  # the backup holds what is deleted
        manifest = _manifest(conn, workspace_id)
        stamp = manifest["create_time"].replace(":", "").replace("-", "")[:15]
        target = backup_dir / f"{workspace_id}-{stamp}-{secrets.token_hex(3)}.tar"
        _write_tar(manifest, blobs, conn, target)
        _record(conn, manifest, target, "deleted")
        entries.drop_all(conn, blobs, workspace_id)
        for row in conn.execute(
            select(uploads_table.c.id).where(uploads_table.c.workspace_id == workspace_id)
        ):
            sessions.remove(conn, row.id)
            (upload_dir / row.id).unlink(missing_ok=True)
        storage.soft_delete(conn, workspace_id)
    return target


def list_backups(db: Database) -> list[dict]:
    with db.read() as conn:
        rows = conn.execute(select(backups).order_by(backups.c.create_time, backups.c.id))
        return [dict(row._mapping) for row in rows]


def _read_archive(source: Path, blobs: Blobs) -> tuple[dict, dict[str, tuple[Path, int]]]:
    """The manifest and every blob of an archive, each blob in a verified temp file."""
    staged: dict[str, tuple[Path, int]] = {}
    manifest = None
    try:
        with tarfile.open(source, mode="r:") as tar:
            for member in tar:
                handle = tar.extractfile(member)
                if handle is None:
                    continue
                if member.name == "manifest.json":
                    manifest = strictjson.loads(handle.read())
                    continue
                digest = member.name.removeprefix("blobs/")
                if not HEX64.match(digest):
                    raise UsageError(f"{source}: unexpected member {member.name!r}")
                temp = blobs.temp()
                while chunk := handle.read(1 << 20):
                    temp.write(chunk)
                if temp.finish() != digest:
                    temp.discard()
                    raise UsageError(f"{source}: blob {digest} is damaged")
                staged[digest] = (temp.path, temp.size)
    except (OSError, tarfile.TarError, ValueError, UsageError, InvalidParameter) as exc:
        for path, _ in staged.values():
            path.unlink(missing_ok=True)
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise UsageError(f"cannot read backup {source}: {reason}") from exc
    if not manifest or manifest.get("format") != FORMAT:
        raise UsageError(f"{source} is not a syncd workspace backup")
    return manifest, staged


def restore(db: Database, blobs: Blobs, source: Path, upload_dir: Path) -> dict:
    """Put a backup back under its workspace id, as a new revision lineage (PROMISE 3)."""
    manifest, staged = _read_archive(source, blobs)
    try:
        for item in manifest["entries"]:
            try:
                workspace_path(item["path"])
            except InvalidParameter as exc:
                raise UsageError(f"{source}: bad path {item['path']!r}") from exc
            if item["hash"] and item["hash"] not in staged:
                raise UsageError(f"{source}: blob of {item['path']!r} is missing")
        with db.write() as conn:
            return _restore_rows(conn, blobs, manifest, staged, upload_dir)
    finally:
        for path, _ in staged.values():
            path.unlink(missing_ok=True)


def _restore_rows(
    conn: Connection, blobs: Blobs, manifest: dict, staged: dict, upload_dir: Path
) -> dict:
    account, ws = manifest["account"], manifest["workspace"]
    if conn.execute(select(accounts.c.id).where(accounts.c.id == account["id"])).first() is None:
        if conn.execute(select(accounts.c.id).where(accounts.c.tag == account["tag"])).first():
            raise UsageError(f"tag {account['tag']!r} belongs to another account here")
        conn.execute(
            insert(accounts).values(
                id=account["id"],
                tag=account["tag"],
                create_time=account["create_time"],
                total_active_days=0,
            )
        )
    storage.hold(conn, ws["id"], exclusive=True)  # the servers' writes to it wait
    existing = conn.execute(select(workspaces).where(workspaces.c.id == ws["id"])).first()
    revision = max(ws["revision"], existing.revision if existing else 0) + 1
    values = {
        "account_id": account["id"],
        "name": ws["name"],
        "create_time": ws["create_time"],
        "modified_time": now_iso(),
        "revision": revision,
        "history_floor": revision,
        "deleted_time": None,
    }
    if existing is None:
        conn.execute(insert(workspaces).values(id=ws["id"], **values))
    else:
        if existing.account_id != account["id"]:
            raise UsageError(f"workspace {ws['id']} belongs to another account here")
        entries.drop_all(conn, blobs, ws["id"])
        for row in conn.execute(
            select(uploads_table.c.id).where(uploads_table.c.workspace_id == ws["id"])
        ):
            sessions.remove(conn, row.id)
            (upload_dir / row.id).unlink(missing_ok=True)
        conn.execute(update(workspaces).where(workspaces.c.id == ws["id"]).values(**values))
    adopted: set[str] = set()
    for item in manifest["entries"]:
        digest = item["hash"]
        if digest:
            if digest in adopted:
                blobs.ref(conn, digest)
            else:
                path, size = staged[digest]
                blobs.adopt(conn, path, digest, size)
                adopted.add(digest)
        conn.execute(
            insert(entries_table).values(
                workspace_id=ws["id"],
                path=item["path"],
                type=item["type"],
                size=item["size"],
                hash=digest,
                modified_time=item["modified_time"],
                revision=revision,
                created_revision=revision,
            )
        )
    blobs.collect(conn)
    return {"workspace_id": ws["id"], "revision": revision, "entries": len(manifest["entries"])}
