"""The systemd user units: the keys the daemon relies on, and ``systemd-analyze verify``."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parents[2] / "systemd"
PLAIN = UNITS / "syncd.service"
TEMPLATE = UNITS / "syncd@.service"


def parse(path: Path) -> dict[str, dict[str, list[str]]]:
    """systemd's unit syntax: sections, repeatable keys, ``#`` / ``;`` comments."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{path.name}: key outside a section: {line}"
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not a key=value line: {line}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def one(unit: dict[str, dict[str, list[str]]], section: str, key: str) -> str:
    values = unit[section][key]
    assert len(values) == 1, f"{key} set {len(values)} times"
    return values[0]


@pytest.mark.parametrize("path", [PLAIN, TEMPLATE], ids=lambda p: p.name)
def test_service_keys(path: Path) -> None:
    unit = parse(path)
    assert one(unit, "Service", "Type") == "notify"
    assert one(unit, "Service", "NotifyAccess") == "main"
    assert float(one(unit, "Service", "WatchdogSec")) > 0
    assert one(unit, "Service", "Restart") == "on-failure"
    assert float(one(unit, "Service", "RestartSec")) > 0
    assert one(unit, "Service", "ExecReload") == "/bin/kill -HUP $MAINPID"
    assert one(unit, "Service", "NoNewPrivileges") == "yes"
    assert one(unit, "Service", "PrivateTmp") == "yes"
    assert one(unit, "Service", "ProtectSystem") == "strict"
    assert "%h" in one(unit, "Service", "ReadWritePaths").split()
    assert one(unit, "Install", "WantedBy") == "default.target"
    # Exits that a restart cannot cure: usage (2), refused (3), safety stop (5).
    assert set(one(unit, "Service", "RestartPreventExitStatus").split()) == {"2", "3", "5"}


@pytest.mark.parametrize(
    ("path", "config"),
    [(PLAIN, "%h/.config/syncd/config.toml"), (TEMPLATE, "%h/.config/syncd/%i.toml")],
    ids=["plain", "template"],
)
def test_exec_start_runs_the_daemon_with_its_config(path: Path, config: str) -> None:
    argv = one(parse(path), "Service", "ExecStart").split()
    assert argv[0].startswith("/"), "systemd needs an absolute executable"
    assert argv[argv.index("syncd") + 1] == "run"
    assert argv[argv.index("--config") + 1] == config


def test_path_finds_a_user_install() -> None:
    env = parse(PLAIN)["Service"]["Environment"]
    path = next(v for v in env if v.startswith("PATH="))
    assert path.removeprefix("PATH=").split(":")[0] == "%h/.local/bin"


def _verify(unit_dir: Path, name: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    runtime = tmp_path / "runtime"
    runtime.mkdir(exist_ok=True, mode=0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "SYSTEMD_LOG_LEVEL": "notice"}
    return subprocess.run(
        ["systemd-analyze", "--user", "--man=no", "verify", str(unit_dir / name)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


needs_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze not installed (apt-get install -y systemd)",
)


@needs_analyze
@pytest.mark.parametrize(
    ("source", "name"),
    [(PLAIN, "syncd.service"), (TEMPLATE, "syncd@work.service")],
    ids=["plain", "template-instance"],
)
def test_systemd_analyze_verify(source: Path, name: str, tmp_path: Path) -> None:
    unit_dir = tmp_path / "units"
    unit_dir.mkdir()
    shutil.copy(source, unit_dir / source.name)
    proc = _verify(unit_dir, name, tmp_path)
    if "Failed to initialize manager" in proc.stderr:
        pytest.skip(f"systemd-analyze cannot run here: {proc.stderr.strip()}")
    # verify exits 0 even for keys it ignores; every complaint names the file, so none may.
    complaints = [line for line in proc.stderr.splitlines() if source.stem.rstrip("@") in line]
    assert proc.returncode == 0, proc.stderr
    assert complaints == []


@needs_analyze
def test_verify_would_catch_a_broken_unit(tmp_path: Path) -> None:
    unit_dir = tmp_path / "units"
    unit_dir.mkdir()
    text = PLAIN.read_text().replace("Type=notify", "Type=notfy")
    (unit_dir / "syncd.service").write_text(text)
    proc = _verify(unit_dir, "syncd.service", tmp_path)
    if "Failed to initialize manager" in proc.stderr:
        pytest.skip(f"systemd-analyze cannot run here: {proc.stderr.strip()}")
    assert "notfy" in proc.stderr


SERVER = UNITS / "syncd-serve@.service"


def test_server_unit_keys() -> None:
    unit = parse(SERVER)
    assert one(unit, "Service", "Type") == "notify"
    assert one(unit, "Service", "KillSignal") == "SIGTERM"  # the drain
    assert one(unit, "Service", "Restart") == "on-failure"
    assert one(unit, "Service", "RestartPreventExitStatus") == "2"
    assert one(unit, "Service", "UMask") == "0077"
    assert one(unit, "Service", "ReadWritePaths") == "/srv/syncd"
    # The database URL may hold a password: it comes from a file, never from argv.
    assert one(unit, "Service", "EnvironmentFile").lstrip("-") == "/etc/syncd/serve.env"
    argv = one(unit, "Service", "ExecStart").split()
    assert argv[0].startswith("/") and argv[1] == "serve"
    assert argv[argv.index("--port") + 1] == "%i"
    assert not any("postgresql" in arg for arg in argv)
    assert one(unit, "Install", "WantedBy") == "multi-user.target"


@needs_analyze
def test_systemd_analyze_verify_server_unit(tmp_path: Path) -> None:
    unit_dir = tmp_path / "units"
    unit_dir.mkdir()
    syncd = shutil.which("syncd") or "/usr/bin/env"  # verify wants an executable that exists
    text = SERVER.read_text().replace("/opt/syncd/bin/syncd", syncd)
    (unit_dir / SERVER.name).write_text(text)
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    proc = subprocess.run(
        ["systemd-analyze", "--man=no", "verify", str(unit_dir / "syncd-serve@8701.service")],
        capture_output=True,
        text=True,
        env={**os.environ, "XDG_RUNTIME_DIR": str(runtime), "SYSTEMD_LOG_LEVEL": "notice"},
        timeout=60,
    )
    if "Failed to initialize manager" in proc.stderr:
        pytest.skip(f"systemd-analyze cannot run here: {proc.stderr.strip()}")
    complaints = [line for line in proc.stderr.splitlines() if "syncd-serve" in line]
    assert proc.returncode == 0, proc.stderr
    assert complaints == []
