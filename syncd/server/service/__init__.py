"""Server work that is not HTTP: each module takes parsed input and the server's parts.

batch       E5: take a record stream in whole, then apply it in one transaction
batch_read  E6: one committed state of many paths, their blobs pinned while they are sent
"""
