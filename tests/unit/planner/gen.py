"""Hypothesis strategies: (local, remote, base) trees over a tiny alphabet of names.

A small alphabet (``a``, ``b``, ``A``) makes collisions, case clashes, moves onto taken
names and file <-> directory changes frequent. Each entry keeps an identity through the
edits of one side, so a moved file keeps its inode (local) and a fresh revision (remote).
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

from syncd.paths import fold_key, is_within, parent
from syncd.planner.trees import BaseNode, Kind, LocalNode, RemoteNode

SEGMENTS = ("a", "b", "A")
UNIVERSE = sorted(
    {"/".join(p) for p in [(x,) for x in SEGMENTS]}
    | {f"{x}/{y}" for x in SEGMENTS for y in SEGMENTS}
    | {f"{x}/{y}/{z}" for x in ("a", "b") for y in ("a", "b") for z in ("a", "b")}
)
CONTENTS = ("x", "y", "zz", "w")
ACTIONS = ("delete", "edit", "edit", "create", "move", "move", "move", "retype")


@dataclass(frozen=True)
class Entry:
    content: str | None  # None: a directory
    ident: str  # stable through moves; a new identity means a new inode
    edited: bool = False


Spec = dict[str, Entry]


def _can_hold(spec: Spec, path: str) -> bool:
    head = parent(path)
    return path not in spec and (head == "" or (head in spec and spec[head].content is None))


def _without(spec: Spec, root: str) -> Spec:
    return {p: e for p, e in spec.items() if not is_within(p, root)}


def _fold_free(spec: Spec) -> Spec:
    """What a case-folding disk can hold: the first spelling of each name wins."""
    seen: dict[str, str] = {}
    out: Spec = {}
    for path in sorted(spec, key=lambda p: (p.count("/"), p)):
        head = parent(path)
        if head and head not in out:
            continue
        key = fold_key(path)
        if key in seen:
            continue
        seen[key] = path
        out[path] = spec[path]
    return out


@st.composite
def base_specs(draw) -> Spec:
    spec: Spec = {}
    for path in sorted(UNIVERSE, key=lambda p: (p.count("/"), p)):
        if not _can_hold(spec, path):
            continue
        choice = draw(st.sampled_from(("skip", "skip", "skip", "dir", *CONTENTS)))
        if choice != "skip":
            spec[path] = Entry(None if choice == "dir" else choice, "b:" + path)
    return spec


@st.composite
def mutate(draw, spec: Spec, side: str) -> Spec:
    spec = dict(spec)
    for step in range(draw(st.integers(0, 6))):
        action = draw(st.sampled_from(ACTIONS))
        paths = sorted(spec)
        if action == "create":
            path = draw(st.sampled_from(UNIVERSE))
            if _can_hold(spec, path):
                content = draw(st.sampled_from((None, *CONTENTS)))
                spec[path] = Entry(content, f"{side}:{step}:{path}")
            continue
        if not paths:
            continue
        path = draw(st.sampled_from(paths))
        entry = spec[path]
        if action == "delete":
            spec = _without(spec, path)
        elif action == "edit" and entry.content is not None:
            spec[path] = Entry(draw(st.sampled_from(CONTENTS)), entry.ident, True)
        elif action == "move":
            dest = draw(st.sampled_from(UNIVERSE))
            if _can_hold(spec, dest) and not is_within(dest, path):
                moved = {p: e for p, e in spec.items() if is_within(p, path)}
                spec = _without(spec, path)
                for p, e in moved.items():
                    spec[dest + p[len(path) :]] = e
        elif action == "retype":
            spec = _without(spec, path)
            content = draw(st.sampled_from(CONTENTS)) if entry.content is None else None
            spec[path] = Entry(content, f"{side}:{step}:retype:{path}")
    return spec


class Idents:
    """Stable numbers for identities: inodes locally, revisions remotely."""

    def __init__(self) -> None:
        self.numbers: dict[str, int] = {}

    def __call__(self, ident: str) -> int:
        return self.numbers.setdefault(ident, 100 + len(self.numbers))


def to_base(spec: Spec, idents: Idents) -> dict[str, BaseNode]:
    out = {}
    for path, e in spec.items():
        if e.content is None:
            out[path] = BaseNode(path, Kind.DIR, local_inode=idents(e.ident), remote_revision=1)
        else:
            out[path] = BaseNode(
                path, Kind.FILE, len(e.content), "sha256:" + e.content, 1, idents(e.ident), 1, "t1"
            )
    return out


def to_local(spec: Spec, idents: Idents) -> dict[str, LocalNode]:
    out = {}
    for path, e in spec.items():
        inode = idents(e.ident)
        if e.content is None:
            out[path] = LocalNode(path, Kind.DIR, inode=inode)
        else:
            mtime = 2 if e.edited else 1
            out[path] = LocalNode(
                path, Kind.FILE, len(e.content), mtime, inode, "sha256:" + e.content
            )
    return out


def to_remote(spec: Spec, idents: Idents, base: Spec) -> dict[str, RemoteNode]:
    out = {}
    for path, e in spec.items():
        untouched = base.get(path) == e and not e.edited
        rev = 1 if untouched else 1000 + idents("rev:" + path + ":" + e.ident + str(e.edited))
        if e.content is None:
            out[path] = RemoteNode(path, Kind.DIR, revision=rev)
        else:
            out[path] = RemoteNode(
                path, Kind.FILE, len(e.content), f"t{rev}", rev, "sha256:" + e.content
            )
    return out


@st.composite
def worlds(draw):
    """(local, remote, base, folds_case) trees that a real disk and server could hold."""
    folds = draw(st.booleans())
    base = draw(base_specs())
    if folds:
        base = _fold_free(base)
    local = draw(mutate(base, "l"))
    remote = draw(mutate(base, "r"))
    if folds:
        local = _fold_free(local)
    idents = Idents()
    return (
        to_local(local, idents),
        to_remote(remote, idents, base),
        to_base(base, idents),
        folds,
    )
