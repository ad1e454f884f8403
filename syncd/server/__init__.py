"""The reference server: the whole of PROTOCOL.md over HTTP, durably, on one machine.

routes/   HTTP only: parse the request, call service/, shape the answer (app.py wires them,
          one per family, and maps every refusal to its wire code in one handler)
service/  request work without HTTP: every transaction, file reads and writes, uploads,
          batches (E5, E6); raises the server's refusals (service/errors.py)
storage   workspaces, entries, revisions, feed, uploads (no HTTP; one transaction each)
blobs     content-addressed bytes, refcounted: small ones in the database, the rest as
          files on disk (temp, fsync, rename)
db        the one module that knows SQLite (engine, WAL, pragmas, group commit)
compiled  the hot path's statements, compiled once and run on the DBAPI cursor
"""
