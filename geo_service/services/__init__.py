"""Work that is not HTTP: imports, demo data, statistics, map rendering, exports.

Nothing in this package imports flask.
"""
