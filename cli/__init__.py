"""The command-line root: gathers each package's commands (``cli.main:app``)."""
