"""brownie scripts of pvd: thin main() over plain functions."""
