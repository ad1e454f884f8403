"""The reference server: the whole of PROTOCOL.md over HTTP, durably, on one machine.

routes/   HTTP only: parse, call storage, shape JSON   (app.py wires them, one per family)
service/  request work without HTTP: batch writes and reads (E5, E6)
storage   workspaces, entries, revisions, feed, uploads (no HTTP; one transaction each)
blobs     content-addressed bytes, refcounted: small ones in the database, the rest as
          files on disk (temp, fsync, rename)
db        the one module that knows SQLite (engine, WAL, pragmas, group commit)
compiled  the hot path's statements, compiled once and run on the DBAPI cursor
"""
