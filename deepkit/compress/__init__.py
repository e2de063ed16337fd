"""Model compression: embedding nets replaced by quintic tables (DESIGN.md "Compression")."""


class TableOverflowWarning(UserWarning):
    """A compressed model met an input beyond its table: atoms closer than the closest pair of
    its training data (times the extrapolation factor). The table's end value is used."""
