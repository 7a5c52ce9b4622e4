"""``python -m clinlink``: the command line."""

from clinlink.cli.main import run

run()
