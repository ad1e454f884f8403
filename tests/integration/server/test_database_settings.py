"""Where ``serve`` and ``admin`` find their database: flag, then SYNCD_DATABASE_URL, then
the ``--config`` file, then SQLite in the data directory; a password is never printed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from syncd.soak.harness import ServerProcess


def syncd(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k != "SYNCD_DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "-m", "syncd", *args],
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def write_config(path: Path, **keys: object) -> Path:
    lines = [
        f"{key} = {value!r}" if isinstance(value, int) else f'{key} = "{value}"'
        for key, value in keys.items()
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_admin_takes_the_data_dir_and_database_from_the_config_file(tmp_path: Path) -> None:
    data, db = tmp_path / "data", tmp_path / "elsewhere.db"
    config = write_config(tmp_path / "server.toml", data_dir=data, database_url=f"sqlite:///{db}")
    made = syncd("admin", "--config", str(config), "create-account", "dora")
    assert made.returncode == 0, made.stderr
    assert db.exists() and not (data / "syncd.db").exists()


def test_the_environment_beats_the_file_and_the_flag_beats_both(tmp_path: Path) -> None:
    data = tmp_path / "data"
    urls = {name: f"sqlite:///{tmp_path / name}.db" for name in ("file", "env", "flag")}
    config = write_config(tmp_path / "server.toml", database_url=urls["file"])
    env = {"SYNCD_DATABASE_URL": urls["env"]}
    base = ["admin", "--config", str(config), "--data-dir", str(data)]
    assert syncd(*base, "create-account", "erin", env=env).returncode == 0
    assert (tmp_path / "env.db").exists() and not (tmp_path / "file.db").exists()
    flagged = [*base, "--database-url", urls["flag"], "create-account", "finn"]
    assert syncd(*flagged, env=env).returncode == 0
    assert (tmp_path / "flag.db").exists() and not (tmp_path / "file.db").exists()


def test_serve_reads_its_database_from_the_config_file(tmp_path: Path) -> None:
    db = tmp_path / "from-config.db"
    config = write_config(tmp_path / "server.toml", database_url=f"sqlite:///{db}")
    with ServerProcess(tmp_path / "data", extra_args=["--config", str(config)]) as server:
        assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200
        assert db.exists() and not (tmp_path / "data" / "syncd.db").exists()


def test_an_unknown_config_key_is_one_line_and_exit_2(tmp_path: Path) -> None:
    config = write_config(tmp_path / "server.toml", database_uri="sqlite:///x.db")
    for command in (["serve"], ["admin", "list-backups"]):
        done = syncd(command[0], "--config", str(config), "--data-dir", str(tmp_path), *command[1:])
        assert done.returncode == 2
        assert done.stderr.strip().splitlines() == [
            f"syncd: config file {config}: unknown key 'database_uri'"
        ]


def test_a_database_password_is_never_printed(tmp_path: Path) -> None:
    url = "postgresql://syncd:sek@ret@127.0.0.1:1/syncd?password=hunter2"
    config = write_config(tmp_path / "server.toml", database_url=url)
    runs = [
        syncd("serve", "--data-dir", str(tmp_path / "a"), "--database-url", url),
        syncd(
            "admin",
            "--data-dir",
            str(tmp_path / "b"),
            "list-backups",
            env={"SYNCD_DATABASE_URL": url},
        ),
        syncd("admin", "--config", str(config), "--data-dir", str(tmp_path / "c"), "list-backups"),
    ]
    for done in runs:
        assert done.returncode == 2, done.stderr
        assert "cannot open database postgresql://syncd:***@127.0.0.1:1/syncd" in done.stderr
        output = done.stdout + done.stderr
        for piece in ("sek", "ret@", "hunter2"):
            assert piece not in output
