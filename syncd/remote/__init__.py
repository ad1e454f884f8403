"""The remote tree: from the change feed (E2) when the server has it, else the full listing."""
