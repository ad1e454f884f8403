"""The worker: executes a Plan's ops, several transfers in flight, and reports Outcomes."""
