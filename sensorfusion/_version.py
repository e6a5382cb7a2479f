"""The version of the core (one place: the package and the session store read it)."""

__all__ = ["__version__"]

__version__ = "0.1.0"
