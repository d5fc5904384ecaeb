"""The package version (one place; equal to the R package's, checked by ``configure``)."""

__version__ = "0.99.0"
