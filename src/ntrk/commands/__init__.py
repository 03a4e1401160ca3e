"""One module per `nt` subcommand: plain functions that take a repository and return data."""
