"""The reference server: the whole of PROTOCOL.md over HTTP, durably, on one machine.

routes/   HTTP only: parse the request, call service/, shape the answer (app.py wires them,
          one per family, and maps every refusal to its wire code in one handler)
service/  request work without HTTP: every transaction, file reads and writes, uploads,
          batches (E5, E6); raises the server's refusals (service/errors.py)
storage   workspaces, entries, revisions, feed, uploads (no HTTP; one transaction each)
blobs     content-addressed bytes, refcounted on the database: small ones in it, the rest
          in the blob store; collection is safe with several server processes
blobstore the one small interface to where blob files live (put, exists, open, delete,
          stored), and its file-system implementation under --data-dir
db        the one module that knows SQLite (engine, WAL, pragmas, group commit)
compiled  the hot path's statements, compiled once and run on the DBAPI cursor
"""
