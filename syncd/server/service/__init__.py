"""Server work that is not HTTP: each module takes parsed input and the server's parts.

errors      the server's refusals, each with its wire code and status
workspaces  workspaces, the active one, accounts: one transaction per call
files       list, open a download (retrying a blob collected under it), write, delete, ops
feed        E2: a page of changes, held as a long poll while there is none
uploads     E3: begin, write a chunk, commit (verify and publish), abort
batch       E5: take a record stream in whole, then apply it in one transaction
batch_read  E6: one committed state of many paths, their blobs pinned while they are sent
"""
