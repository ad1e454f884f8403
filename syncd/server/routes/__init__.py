"""One module per API family; each exposes ``router`` (a ``Routes`` table)."""
