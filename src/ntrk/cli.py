"""The `nt` command line: parse, call one function, render. The only module that imports click.

Library modules are imported inside each command so that `nt --help` and `nt --version` stay
fast (pygit2 alone costs ~80 ms to import).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from ntrk import __version__
from ntrk.console import say
from ntrk.errors import NtrkError

EXIT_INTERRUPTED = 130
EXIT_INTERNAL = 3


class _PassThrough(click.Command):
    """A command whose arguments all belong to the wrapped program, `-h`, `-o` and `--` too.

    Only a leading `-h`/`--help` asks for ntrk's own help, and a leading `--` is dropped, as
    in `nt track -- ./run.sh`.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args[:1] in (["-h"], ["--help"]):
            click.echo(ctx.get_help())
            ctx.exit()
        if args[:1] == ["--"]:
            args = args[1:]
        if not args:
            raise click.UsageError("missing the command to run", ctx)
        ctx.params["argv"] = tuple(args)
        return []

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        return ["COMMAND [ARGS]..."]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="ntrk", message="%(prog)s %(version)s")
def cli() -> None:
    """Record how files are made; ask later, on any clone.

    \b
    nt track python clean.py -i raw.csv -o clean.csv
    nt trace clean.csv
    """


@cli.command(cls=_PassThrough, add_help_option=False)
@click.pass_context
def track(ctx: click.Context, argv: Sequence[str]) -> None:
    """Run COMMAND and record how its outputs were made.

    Inputs follow -i/--in/--input and outputs -o/--out/--output (more flag names can be set
    in ntrk.toml). The work tree must be clean, so that every run maps to a commit; files that
    earlier recorded runs wrote do not count as changes. Every argument is passed to COMMAND
    untouched.

    \b
    nt track python clean.py -i raw.csv -o clean.csv
    nt track Rscript fit.R --input clean.csv --output model.rds
    """
    from ntrk.track import track as run_tracked

    ctx.exit(run_tracked(argv).exit_code)


@cli.command()
@click.argument("file", type=click.Path(path_type=Path))
def trace(file: Path) -> None:
    """Show how FILE was made, raw inputs first, FILE last.

    One line per step: inputs -> script @ commit -> output. A file that changed since it was
    recorded is marked [modified], one that is gone [missing].

    \b
    nt trace results/model.rds
    """
    from ntrk.render import text_lines
    from ntrk.trace import trace as trace_file

    for line in text_lines(trace_file(file)):
        click.echo(line)


@cli.command()
@click.argument("remote", required=False)
@click.option("--dry-run", is_flag=True, help="Say what would happen; change nothing.")
def sync(remote: str | None, dry_run: bool) -> None:
    """Exchange lineage notes with REMOTE (default: the upstream's remote, else origin).

    Mirrors into refs/notes/ntrk every log record the notes lack, fetches REMOTE's notes,
    merges them (the union of records on every commit) and pushes the result. Also sets,
    once, notes.rewriteRef and notes.ntrk.mergeStrategy so plain git keeps the notes.

    \b
    nt sync
    nt sync upstream --dry-run
    """
    from ntrk import repo as repo_mod
    from ntrk.sync import sync as sync_notes

    report = sync_notes(repo_mod.discover(Path.cwd()), remote, dry_run)
    for change in report.configured:
        say(f"{'would set' if dry_run else 'set'} {change}")
    click.echo(report.summary(dry_run))


@cli.command("install-hooks")
@click.option("--push-notes", is_flag=True, help="Also sync lineage notes on every git push.")
@click.option("--uninstall", is_flag=True, help="Remove ntrk's hooks; put back what they replaced.")
def install_hooks(push_notes: bool, uninstall: bool) -> None:
    """Install git hooks that keep the lineage log with the code.

    The pre-commit hook stages .ntrk/runs.jsonl (and the sidecars of staged outputs), so every
    commit carries the runs recorded so far. With --push-notes, a pre-push hook runs nt sync for
    the remote being pushed to. Hooks already there are kept and run first. Also sets the notes
    config that nt sync sets.

    \b
    nt install-hooks
    nt install-hooks --push-notes
    nt install-hooks --uninstall
    """
    from ntrk import hooks, notes
    from ntrk import repo as repo_mod

    repo = repo_mod.discover(Path.cwd())
    if uninstall:
        changes = hooks.uninstall(repo)
        for change in changes:
            click.echo(change.describe())
        if not changes:
            click.echo("no ntrk hooks were installed")
        return
    names = hooks.DEFAULT_HOOKS + (hooks.PUSH_HOOKS if push_notes else ())
    for change in hooks.install(repo, names):
        click.echo(change.describe())
    for setting in notes.configure(repo.git):
        click.echo(f"set {setting}")


@cli.command(hidden=True)
@click.argument("name", type=click.Choice(["pre-commit", "post-commit", "pre-push"]))
@click.argument("remote", required=False)
def hook(name: str, remote: str | None) -> None:
    """Run the work of ntrk's git hook NAME (called by the installed hook scripts).

    \b
    nt hook pre-commit
    """
    from ntrk import repo as repo_mod
    from ntrk import staging

    try:
        repo = repo_mod.discover(Path.cwd())
        if name == "pre-commit":
            staging.pre_commit(repo)
        elif name == "post-commit":
            staging.post_commit(repo)
        elif remote:
            staging.pre_push(repo, remote)
    except NtrkError as error:  # a hook warns; it never stops git because of ntrk
        say(f"warning: {error}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and turn every outcome into an exit code; never a traceback."""
    try:
        result: Any = cli.main(args=list(argv) if argv is not None else None, standalone_mode=False)
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except NtrkError as error:
        say(str(error))
        return error.exit_code
    except (KeyboardInterrupt, click.Abort):
        say("interrupted — nothing was recorded")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`nt trace x | head`); silence the flush at exit as well.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as error:  # a bug in ntrk, not something the user did
        return _report_internal_error(error)
    return result if isinstance(result, int) else 0


def _report_internal_error(error: Exception) -> int:
    import tempfile
    import traceback

    with tempfile.NamedTemporaryFile(
        "w", prefix="ntrk-crash-", suffix=".log", delete=False, encoding="utf-8"
    ) as log:
        log.write(f"ntrk {__version__}\nargv: {sys.argv!r}\n\n")
        log.write("".join(traceback.format_exception(error)))
    say(
        f"internal error: {type(error).__name__}: {error} — this is a bug in ntrk; "
        f"please report it with {log.name}"
    )
    return EXIT_INTERNAL
