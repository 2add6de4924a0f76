"""spinlat from Python (docs/python.md)."""
from ._spinlat import __version__

__all__ = ["__version__"]
