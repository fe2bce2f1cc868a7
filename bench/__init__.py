"""Benchmarks. ``python -m bench.run`` (``make bench``) measures the server against its two floors."""
