"""Service tests (a package so that test_returns.py may exist here and under tests/web)."""
