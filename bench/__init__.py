"""Benchmarks: each module measures one thing against its peer and records the result in bench/results/.

Run them all with `make bench` (python -m bench). They are never part of the test suite.
"""
