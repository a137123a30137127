"""``geo-service returns …`` (being built)."""

commands: list = []
