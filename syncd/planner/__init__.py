"""The pure planner: (local, remote, base, policy) -> Plan. No I/O, no clock, no logging."""
