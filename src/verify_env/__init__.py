"""verify-env: tells whether a Python environment is whole, before anything imports."""

__version__ = "0.1.0"
