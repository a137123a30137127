"""``geo-service demo …`` (filled in by the demo-data work)."""

commands: list = []
