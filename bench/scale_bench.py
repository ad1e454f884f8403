"""Time and peak memory of syncd over big trees of tiny files, next to ``find`` and unison.

For each ``--files`` size (default 100,000; 1,000,000 is the goal of issue 14) it builds a
seeded tree of small files in a nested folder shape and prints, in one run:

1. the anchor: ``find TREE -printf '%s %T@ %i'`` (every file stat'ed once), and unison
   local to local (first run, no-op, after the same 0.1% change) where installed;
2. syncd: a dry run of the first sync (it plans and prints every upload), the first sync
   up (batch extension on, as the server offers it), a no-op sync,
   a sync after rewriting 0.1% of the files, and a ``syncd run`` start over the indexed
   tree until it is ready (its first pass done, the feed followed);
3. each with wall time, CPU time (user + sys: the figure to compare on a shared machine)
   and peak RSS: GNU ``/usr/bin/time``'s for a command that ends, VmHWM from
   ``/proc/PID/status`` for the daemon (no CPU time there).

Each syncd phase is a fresh process, as a user runs it. The server runs with its default
options; its memory is not counted (the goals are the client's).

    python bench/scale_bench.py                      # 100,000 files
    python bench/scale_bench.py --files 1000000      # the goal size
    python bench/scale_bench.py --files 2000,20000   # quick, and the growth between sizes
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.anchors import Unison, installed, precompile_syncd  # noqa: E402
from syncd.soak.harness import (  # noqa: E402
    DaemonProcess,
    ServerProcess,
    client_argv,
    create_account,
    create_workspace,
)

GNU_TIME = "/usr/bin/time"
SEED = 14
FILES_PER_FOLDER = 25  # mean; the sizes follow a Pareto law, a few folders hold many
EXTENSIONS = ("jpg", "txt", "py", "json", "md", "png", "c", "h", "js", "heic")
CHANGED_SHARE = 0.001
LAST_CPU: float | None = None  # user + sys seconds of the last ``timed`` command


@dataclass
class Measure:
    """One timed phase: wall seconds, peak RSS in MiB and CPU seconds (None: not measured)."""

    name: str
    seconds: float
    rss_mib: float | None
    cpu: float | None = None


@dataclass
class Size:
    files: int
    folders: int
    nbytes: int
    rows: list[Measure] = field(default_factory=list)


def build_tree(dest: Path, count: int, seed: int = SEED) -> tuple[list[str], int, int]:
    """``count`` files of 0-24 bytes in nested folders; the same seed, the same tree.

    Folders form a random recursive tree (each new folder under an earlier one, so depth
    grows like log n, as in photo libraries and source trees); files land in folders with
    Pareto weights, so most folders are small and a few hold thousands. Returns the file
    paths, the folder count and the total bytes.
    """
    rng = random.Random(f"scale-{seed}")
    nfolders = max(1, count // FILES_PER_FOLDER)
    folders = [""]
    for k in range(1, nfolders):
        parent = folders[rng.randrange(k)]
        name = f"{rng.choice(('src', 'img', 'lib', 'docs', '20', 'a', 'pkg'))}{k:x}"
        folders.append(f"{parent}/{name}" if parent else name)
    for folder in folders[1:]:
        (dest / folder).mkdir(parents=True, exist_ok=True)
    weights = [rng.paretovariate(1.3) for _ in folders]
    chosen = rng.choices(range(nfolders), weights=weights, k=count)
    paths, nbytes = [], 0
    dest.mkdir(parents=True, exist_ok=True)
    for i, index in enumerate(chosen):
        folder = folders[index]
        name = f"f{i:07d}.{EXTENSIONS[i % len(EXTENSIONS)]}"
        rel = f"{folder}/{name}" if folder else name
        body = b"" if i % 20 == 0 else f"{seed}:{i}:{rng.random():.6f}\n".encode()
        fd = os.open(dest / rel, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, body)
        finally:
            os.close(fd)
        paths.append(rel)
        nbytes += len(body)
    return paths, nfolders, nbytes


def change_some(tree: Path, paths: list[str], share: float = CHANGED_SHARE) -> list[str]:
    """Rewrite ``share`` of the files (seeded) with new bytes: what a user's edits do."""
    rng = random.Random(f"change-{len(paths)}")
    chosen = rng.sample(paths, max(1, int(len(paths) * share)))
    for rel in chosen:
        with open(tree / rel, "ab") as handle:
            handle.write(b"changed\n")
    return chosen


def timed(cmd: list[str], *, env: dict[str, str] | None = None, ok: tuple[int, ...] = (0,)):
    """Run ``cmd`` under GNU time: (wall seconds, peak RSS MiB or None, completed process);
    the CPU seconds (user + sys) of the last command are in ``LAST_CPU``."""
    global LAST_CPU
    report = None
    LAST_CPU = None
    if os.path.exists(GNU_TIME):
        fd, report = tempfile.mkstemp(prefix="scale-time-")
        os.close(fd)
        cmd = [GNU_TIME, "-f", "%U %S %M", "-o", report, *cmd]
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=4 * 3600)
    elapsed = time.perf_counter() - started
    rss = None
    if report is not None:
        text = Path(report).read_text().strip().splitlines()
        os.unlink(report)
        fields = text[-1].split() if text else []
        if len(fields) == 3 and fields[2].isdigit():
            rss = int(fields[2]) / 1024  # GNU time reports KiB
            LAST_CPU = float(fields[0]) + float(fields[1])
    if proc.returncode not in ok:
        tail = "\n".join(proc.stderr.splitlines()[-15:])
        raise SystemExit(f"{' '.join(cmd[:8])} ... exited {proc.returncode}:\n{tail}")
    return elapsed, rss, proc


def find_pass(tree: Path) -> Measure:
    """The floor of a no-op: one ``find`` that stats every file (size, mtime, inode)."""
    seconds, rss, _ = timed(["find", str(tree), "-printf", "%s %T@ %i\n"])
    return Measure("find -printf '%s %T@ %i'", seconds, rss, LAST_CPU)


def unison_rows(base: Path, tree: Path, paths: list[str]) -> tuple[Unison, list[Measure]]:
    unison = Unison(base, tree)
    rows = []
    for name in ("unison first run", "unison no-op"):
        seconds, rss = run_unison(unison)
        rows.append(Measure(name, seconds, rss, LAST_CPU))
    return unison, rows


def run_unison(unison: Unison) -> tuple[float, float | None]:
    """``Unison.run`` under GNU time (the same arguments as bench/anchors.py)."""
    cmd = ["unison", str(unison.tree), str(unison.hub), "-batch", "-auto", "-times"]
    cmd += ["-silent", "-ignore", "Name .syncd*", "-confirmbigdel=false"]
    env = {**os.environ, "UNISON": str(unison.home)}
    seconds, rss, _ = timed(cmd, env=env, ok=(0, 1))
    return seconds, rss


@dataclass
class ReadyDaemon(DaemonProcess):
    """``syncd run`` whose readiness is its first ``event=remote`` line (first pass done)."""

    def peak_mib(self) -> float | None:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return None


def syncd_rows(server: ServerProcess, key: str, work: Path, tree: Path, paths: list[str]):
    """The syncd phases on ``tree``; the 0.1% change happens between no-op and sync."""
    workspace = create_workspace(server, key, f"scale-{len(paths)}")
    state = work / "state"
    env = {**os.environ, "SYNCD_API_KEY": key}
    rows = []

    def sync(name: str, *args: str) -> None:
        cmd = client_argv("sync", server.url, workspace, tree, state, *args)
        seconds, rss, _ = timed(cmd, env=env)
        rows.append(Measure(name, seconds, rss, LAST_CPU))
        print(
            f"  {name}: {seconds:.2f} s, CPU {LAST_CPU or 0:.2f} s, {rss or 0:.0f} MiB", flush=True
        )

    sync("syncd dry run of the first sync", "--dry-run")  # plans every file, prints it
    sync("syncd first sync up")
    sync("syncd no-op")
    changed = change_some(tree, paths)
    sync(f"syncd after {len(changed)} changed")
    daemon = ReadyDaemon(server, key, workspace, tree, state)
    started = time.perf_counter()
    daemon.start()
    try:
        daemon.wait_for("event=remote", timeout=4 * 3600)
        seconds = time.perf_counter() - started
        rows.append(Measure("syncd run: start until ready", seconds, daemon.peak_mib()))
        print(f"  daemon ready: {seconds:.2f} s", flush=True)
    finally:
        daemon.stop(timeout=60)
    return rows, changed


def measure_size(
    server: ServerProcess, key: str, work: Path, count: int, *, with_unison: bool = True
) -> Size:
    base = work / f"n{count}"
    tree = base / "tree"
    started = time.perf_counter()
    paths, folders, nbytes = build_tree(tree, count)
    print(f"{count} files in {folders} folders built in {time.perf_counter() - started:.0f} s")
    size = Size(count, folders, nbytes)
    size.rows.append(find_pass(tree))
    unison = None
    if with_unison and installed("unison"):
        unison, rows = unison_rows(base, tree, paths)
        size.rows += rows
    rows, _changed = syncd_rows(server, key, base, tree, paths)
    if unison is not None:  # the same 0.1% change the syncd row saw
        seconds, rss = run_unison(unison)
        rows.insert(3, Measure("unison after the same change", seconds, rss, LAST_CPU))
    size.rows += rows
    shutil.rmtree(base, ignore_errors=True)
    return size


def print_sizes(sizes: list[Size]) -> None:
    for size in sizes:
        floor = size.rows[0].seconds
        print(f"\n{size.files:,} files in {size.folders:,} folders, {size.nbytes / 1e6:.1f} MB")
        print(f"{'phase':<34} {'wall s':>8} {'x find':>7} {'CPU s':>7} {'peak RSS MiB':>13}")
        for row in size.rows:
            rss = f"{row.rss_mib:.0f}" if row.rss_mib is not None else "-"
            cpu = f"{row.cpu:.2f}" if row.cpu is not None else "-"
            print(
                f"{row.name:<34} {row.seconds:>8.2f} {row.seconds / floor:>7.1f} {cpu:>7} {rss:>13}"
            )
    if not os.path.exists(GNU_TIME):
        print("note: GNU time missing (apt-get install time): peak RSS of commands not measured")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--files", default="100000", help="comma list of tree sizes (default 100000)"
    )
    parser.add_argument("--tmp", type=Path, help="work folder (default: a temp dir)")
    parser.add_argument(
        "--unison-up-to",
        type=int,
        default=None,
        metavar="N",
        help="run unison beside syncd only on trees of at most N files (its first run of "
        "1,000,000 files takes an hour or more); default: every size",
    )
    args = parser.parse_args()
    precompile_syncd()
    try:
        counts = [int(n) for n in args.files.split(",")]
    except ValueError:
        parser.error(f"--files takes a comma list of counts, not {args.files!r}")
    if any(n < 1 for n in counts):
        parser.error("--files: every count must be at least 1")
    sizes = []
    with tempfile.TemporaryDirectory(prefix="syncd-scale-bench-", dir=args.tmp) as tmp:
        work = Path(tmp)
        with ServerProcess(work / "server") as server:
            key = create_account(server.data_dir, "scale")
            for count in counts:
                with_unison = args.unison_up_to is None or count <= args.unison_up_to
                sizes.append(measure_size(server, key, work, count, with_unison=with_unison))
    print_sizes(sizes)
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())} (2 cores)")


if __name__ == "__main__":
    main()
