"""The `lambkin` command."""
