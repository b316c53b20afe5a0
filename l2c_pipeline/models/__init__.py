"""Turns sql/**.sql into warehouse tables and Dagster assets (dependencies read from the SQL itself)."""
