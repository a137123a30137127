"""``geo-service import …`` (filled in by the importer work)."""

commands: list = []
