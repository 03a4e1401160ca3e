"""`python -m ntrk`, and the `nt`/`ntrk` entry points: the CLI, or one line when ntrk's own
dependencies cannot be imported (a broken installation), never a traceback.

Imports nothing but the standard library before the CLI, so that it works however broken the
installation is.
"""

from __future__ import annotations

import sys


def main() -> int:
    """Run the command line; with a broken installation, say so in one line."""
    try:
        from ntrk.cli import main as run_cli
    except ImportError as error:
        from ntrk.console import say
        from ntrk.errors import broken_installation

        problem = broken_installation(error)
        if sys.argv[1:2] == ["hook"]:  # a git hook: warn once (pre-commit), never stop git
            if sys.argv[2:3] != ["post-commit"]:
                say(f"warning: {problem}")
            return 0
        say(str(problem))
        return 1
    return run_cli()


if __name__ == "__main__":
    sys.exit(main())
