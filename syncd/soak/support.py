"""The test harness parts the soak reuses: the real-server runner and the fault proxy.

They live in the source checkout under ``tests/support``; the soak is a developer tool run
from that checkout, so the checkout root is put on ``sys.path`` when it is not there yet.
"""

from __future__ import annotations

import sys
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[2]

if not (CHECKOUT / "tests" / "support" / "fault_proxy.py").is_file():  # pragma: no cover
    raise ImportError("syncd.soak needs a source checkout (tests/support is not installed)")
if str(CHECKOUT) not in sys.path:
    sys.path.insert(0, str(CHECKOUT))

from tests.support.fault_proxy import Fault, FaultProxy  # noqa: E402
from tests.support.server import ServerProcess, run_admin  # noqa: E402

__all__ = ["CHECKOUT", "Fault", "FaultProxy", "ServerProcess", "run_admin"]
