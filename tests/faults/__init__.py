"""Fault injection for tests/test_faults.py: a dedicated PostgreSQL to stop and start, a TCP proxy to cut or stall."""
