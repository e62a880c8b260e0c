"""Test harnesses, kept out of the library (and out of the wheel and the image): a throw-away
embedded stack (``stack``) and fault-injection servers and scenarios (``fault_servers``), shared
by the tests, ``benchmarks/`` and ``make golden``."""
