"""The daemon ``syncd run``: event sources around the one sync engine, until SIGTERM.

    Watcher -> Coalescer -> store.mark_dirty -> Engine.sync(scope=dirty) -> clear_dirty
    RemoteWatcher (long poll / interval) ---------^        full Engine.sync() at start,
    signals (TERM/INT stop, HUP reload) -> Daemon loop      on rescan and on the safety timer
    StatusBoard -> store.set_daemon_status + sd_notify STATUS / WATCHDOG

The daemon adds no second engine: everything it changes goes through ``Engine.sync``.
Modules are imported by name (``syncd.daemon.loop.Daemon``), so the lock alone is cheap.
"""
