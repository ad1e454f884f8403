"""The daemon ``syncd run``: event sources around the one sync engine, until SIGTERM.

    Watcher -> Coalescer -> store.dirty.mark -> Engine.sync(scope=dirty) -> dirty.clear
    RemoteWatcher (long poll / interval) ---------^        full Engine.sync() at start,
    signals (TERM/INT stop, HUP reload) -> Daemon loop      on rescan and on the safety timer
    StatusBoard -> store.daemon_status.write + sd_notify STATUS / WATCHDOG

The daemon adds no second engine: everything it changes goes through ``Engine.sync``.
Modules are imported by name (``syncd.daemon.loop.Daemon``), so the lock alone is cheap.
"""
