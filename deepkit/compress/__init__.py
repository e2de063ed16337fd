"""Model compression: embedding nets replaced by quintic tables (DESIGN.md "Compression")."""
