"""The steps of a schedule: seeded, abstract, and resolved against the trees only when run.

1. ``generate(seed, count)`` returns the same steps for the same seed, on every machine.
2. A step names its target by a fraction (``pick``) of the client's current entries, not by
   a path, so any subset of a schedule is still a valid schedule: that is what lets the
   shrinker drop steps freely.
3. Every step has a ``uid``, fixed at generation: the content a write step puts on disk is
   derived from it, so a version stays unique and recognisable when steps are dropped.
4. Names are drawn from small pools on purpose (unicode, NFC/NFD pairs, case variants,
   spaces, ``#%?``): clients that pick the same names collide, and collisions find bugs.
5. A ``twin`` step writes a name of ``TWIN_NAMES`` in its NFC spelling, its NFD spelling,
   or both side by side in one folder (a file, or a folder with a file in it): twins on
   one client, and different spellings of one name across clients.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass

FILE_NAMES = (
    "a.txt",
    "A.txt",
    "notes.md",
    "Notes.md",
    unicodedata.normalize("NFC", "café.txt"),
    unicodedata.normalize("NFD", "café.txt"),
    "naïve doc.txt",
    "x #1 %?.txt",
    "日本語.txt",
    "space name .txt",
    "data.bin",
)
DIR_NAMES = (
    "d",
    "D",
    "sub dir",
    unicodedata.normalize("NFC", "Ünïcode"),
    unicodedata.normalize("NFD", "Ünïcode"),
    "q#%?",
    "deep",
)
# NFC spellings; a twin step writes these as NFC, as NFD, or both. Files end in an extension.
TWIN_NAMES = (
    unicodedata.normalize("NFC", "café.txt"),
    unicodedata.normalize("NFC", "naïve doc.txt"),
    unicodedata.normalize("NFC", "Ünïcode"),
    unicodedata.normalize("NFC", "Ordner é"),
)
TWIN_SPELLINGS = (("NFC",), ("NFD",), ("NFC", "NFD"), ("NFD", "NFC"))
LOCAL_KINDS = ("write", "write", "edit", "delete", "rename", "move", "mkdir", "touch", "twin")
SERVER_KINDS = ("fault", "restart", "backup", "restore")
FAULT_KINDS = ("status500", "status503", "reset_response", "reset_request", "truncate", "stall")


@dataclass(frozen=True)
class Step:
    """One thing that happens in a schedule; ``pick``/``target`` are fractions in [0, 1)."""

    uid: int
    kind: str
    client: int = 0
    pick: float = 0.0
    target: float = 0.0
    name: str = ""
    fault: str = ""

    def describe(self) -> str:
        """A short line that, with the seed, identifies the step (for failure reports)."""
        parts = [f"#{self.uid} {self.kind}"]
        if self.kind not in SERVER_KINDS:
            parts.append(f"c{self.client}")
        if self.kind in ("write", "rename", "mkdir", "twin"):
            parts.append(repr(self.name))
        if self.kind == "twin":
            parts.append("+".join(twin_spellings(self)))
        if self.kind == "fault":
            parts.append(self.fault)
        if self.kind in ("edit", "delete", "rename", "move", "touch", "kill", "write", "mkdir"):
            parts.append(f"pick={self.pick:.2f}")
        if self.kind in ("move", "kill", "write", "mkdir", "fault", "twin"):
            parts.append(f"target={self.target:.2f}")
        return " ".join(parts)


def generate(seed: int, count: int, clients: int = 3, *, faults: bool = True) -> list[Step]:
    """``count`` random steps for ``seed``; about a third are syncs (or killed syncs)."""
    rng = random.Random(f"syncd-soak:{seed}")
    steps: list[Step] = []
    for uid in range(count):
        roll = rng.random()
        client = rng.randrange(clients)
        pick, target = rng.random(), rng.random()
        if roll < 0.30:
            kind = "sync"
        elif roll < 0.36:
            kind = "kill"
        elif faults and roll < 0.44:
            kind = rng.choice(SERVER_KINDS)
        else:
            kind = rng.choice(LOCAL_KINDS)
        name = ""
        if kind in ("write", "rename"):
            name = rng.choice(FILE_NAMES + DIR_NAMES[:3] if kind == "rename" else FILE_NAMES)
        elif kind == "mkdir":
            name = rng.choice(DIR_NAMES)
        elif kind == "twin":
            name = rng.choice(TWIN_NAMES)
        fault = rng.choice(FAULT_KINDS) if kind == "fault" else ""
        steps.append(Step(uid, kind, client, pick, target, name, fault))
    return steps


def twin_spellings(step: Step) -> tuple[str, ...]:
    """The normal forms a twin step writes its name in, in order (``pick`` chooses)."""
    return TWIN_SPELLINGS[int(step.pick * len(TWIN_SPELLINGS)) % len(TWIN_SPELLINGS)]


def is_folder_name(name: str) -> bool:
    """A twin name without an extension is written as a folder (with a file inside)."""
    return "." not in name


def content_for(seed: int, step: Step, variant: str = "") -> bytes:
    """Unique bytes for a write or edit: the version is recognisable by its first line.

    ``variant`` tells apart the versions one step writes (a twin step writes two).
    """
    extra = f" {variant}" if variant else ""
    rng = random.Random(f"syncd-soak-content:{seed}:{step.uid}{extra}")
    size = rng.choice((0, 1, 100, 5000, 70_000))
    head = f"version seed={seed} step={step.uid} client={step.client}{extra}\n".encode()
    return head + rng.randbytes(size)
