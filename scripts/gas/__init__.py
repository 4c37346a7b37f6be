"""Gas measurements, one module per area, each exposing measure() -> dict[str, int]."""
