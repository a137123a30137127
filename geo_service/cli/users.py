"""``geo-service users …`` (being built)."""

commands: list = []
