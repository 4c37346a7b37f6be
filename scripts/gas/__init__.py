"""Gas-measuring modules, one per area: each exposes `measure() -> dict[str, int]`."""
