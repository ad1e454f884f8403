"""What client, server and tests share about the wire, with no HTTP and no I/O.

errors    the wire error codes of PROTOCOL.md and the status each is sent with
routes    the URL path of every resource, for server routing and client URLs
records   the record stream of E5/E6: JSON lines, each maybe followed by raw bytes;
          an incremental decoder (sans-I/O) and a streaming encoder
streams   drive that decoder from a sync or an async byte iterator
batch     the records of E5 (put, delete, mkdir) and E6 (one answer per path), parsed
          strictly and written canonically
"""
