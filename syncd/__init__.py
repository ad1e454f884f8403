"""syncd: two-way sync of a local folder with a remote workspace.

    watcher/  local events  ─┐
    local/    scan + hash    ├─> state/ (base tree, journal) ─> reconciler ─> planner/ (pure)
    remote/   change feed   ─┘                                        │
    worker/   executes the Plan's ops ─> transport/ (httpx + tenacity) ─> server (server/)

The planner decides, everything else gathers facts or acts on them. protocol/ holds what
client and server share about the wire (error codes, URL routes, the record stream).
"""

__version__ = "0.1.0"
