"""brownie scripts: thin `main()` functions over plain functions that return results."""
