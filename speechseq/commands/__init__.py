"""One module per `speechseq` subcommand (see speechseq/cli.py)."""
