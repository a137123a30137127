"""Functions that build and return SQLAlchemy statements; every spatial SQL lives here."""
