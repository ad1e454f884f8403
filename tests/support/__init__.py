"""Test support: the real reference server in a subprocess, the fault proxy, helpers."""
