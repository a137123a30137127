"""Demo register (to be written)."""


def load_if_empty(url: str) -> None:
    """Load the demo register when the database has no enterprises."""
