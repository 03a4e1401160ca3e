"""The `nt` command line: parse, find the repository, call one function, render.

The only module that imports click. It finds the repository once and passes it down, and it
composes the hints that need more than one module (unfetched notes, how to keep a record).
Library modules are imported inside each command so that `nt --help` and `nt --version` stay
fast (pygit2 alone costs ~80 ms to import).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ntrk import __version__, render
from ntrk.console import say
from ntrk.errors import NtrkError

if TYPE_CHECKING:
    from click.shell_completion import CompletionItem

    from ntrk.commands.track import TrackResult
    from ntrk.declare import Declared
    from ntrk.repo import Repo

EXIT_INTERRUPTED = 130
EXIT_INTERNAL = 3


class _PassThrough(click.Command):
    """A command whose arguments belong to the wrapped program, `-h`, `-o` and `--` too.

    Only a leading `-h`/`--help` asks for ntrk's own help, and a leading `--` is dropped, as
    in `nt track -- ./run.sh`. ntrk's own options come first and end at a `--`:
    `nt track -i params.yaml -o model.pkl -- python train.py`. Without that `--`, every word
    is the command's, as in ntrk 0.1.0.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        completing = ctx.resilient_parsing  # `nt track <TAB>`: never print usage errors
        if args[:1] in (["-h"], ["--help"]) and not completing:
            click.echo(ctx.get_help())
            ctx.exit()
        own: list[str] = []
        if args[:1] == ["--"]:
            args = args[1:]
        elif args and args[0].startswith("-") and "--" in args:
            end = args.index("--")
            own, args = args[:end], args[end + 1 :]
        elif args and (own_option := self._own_option(args[0])) is not None and not completing:
            example = args[0] if own_option.is_flag or "=" in args[0] else f"{args[0]} PATH"
            raise click.UsageError(
                f"{args[0]} is nt track's own option, and those end with -- before the command: "
                f"nt track {example} -- COMMAND…",
                ctx,
            )
        ctx.allow_extra_args = True  # extra words are reported below, with what to do instead
        extra = super().parse_args(ctx, own)
        if extra and not completing:
            raise click.UsageError(
                f"{extra[0]} is not an option: each -i/-o takes one PATH (repeat it, or quote a "
                "pattern, -i 'data/*.csv'), and the command follows --",
                ctx,
            )
        if not args and not completing:
            raise click.UsageError("missing the command to run", ctx)
        ctx.params["argv"] = tuple(args)
        return []

    def _own_option(self, word: str) -> click.Option | None:
        name = word.split("=", 1)[0]
        for param in self.params:
            if isinstance(param, click.Option) and name in (*param.opts, *param.secondary_opts):
                return param
        return None

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        return ["[-i PATH]... [-o PATH]... [--observe] [--]", "COMMAND [ARGS]..."]

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[CompletionItem]:
        """ntrk's own options, or a command from PATH, first; then file names (as sudo and
        time complete)."""
        from click.shell_completion import CompletionItem

        if not ctx.params.get("argv") and incomplete.startswith("-"):
            return super().shell_complete(ctx, incomplete)
        if not ctx.params.get("argv") and "/" not in incomplete:
            names = _commands_on_path(incomplete)
            if names:
                return [CompletionItem(name) for name in names]
        return [CompletionItem(incomplete, type="file")]


def _commands_on_path(prefix: str) -> list[str]:
    """Executable names on PATH that start with `prefix`, sorted, each once."""
    found: set[str] = set()
    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
        try:
            entries = list(os.scandir(directory or "."))
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith(prefix) and entry.name not in found:
                try:
                    if entry.is_file() and os.access(entry.path, os.X_OK):
                        found.add(entry.name)
                except OSError:
                    continue
    return sorted(found)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="ntrk", message="%(prog)s %(version)s")
def cli() -> None:
    """Record how files are made; ask later, on any clone.

    \b
    nt track python clean.py -i raw.csv -o clean.csv
    nt trace clean.csv
    """


@cli.command(cls=_PassThrough, add_help_option=False)
@click.option(
    "-i",
    "--input",
    "inputs",
    multiple=True,
    metavar="PATH",
    type=click.Path(),  # completes file names, also after the command's own -i
    help="Declare an input; repeatable.",
)
@click.option(
    "-o",
    "--output",
    "outputs",
    multiple=True,
    metavar="PATH",
    type=click.Path(),
    help="Declare an output; repeatable.",
)
@click.option(
    "--observe/--no-observe",
    default=None,
    help="Record the files the run opens (default: [track] observe in ntrk.toml).",
)
@click.pass_context
def track(
    ctx: click.Context,
    argv: Sequence[str],
    inputs: tuple[str, ...],
    outputs: tuple[str, ...],
    observe: bool | None,
) -> None:
    """Run COMMAND and record how its outputs were made.

    Inputs follow -i/--in/--input and outputs -o/--out/--output in COMMAND (more flag names can
    be set in ntrk.toml). For files COMMAND names otherwise (or not at all), declare them with
    nt track's own -i/-o before a --, each one PATH (a file, a directory, or a quoted glob), or
    let --observe record what the run opens. The work tree must be clean, so that every run
    maps to a commit; files that earlier recorded runs wrote do not count as changes. Without
    a --, every argument is passed to COMMAND untouched.

    \b
    nt track python clean.py -i raw.csv -o clean.csv
    nt track -i params.yaml -o model.pkl -- python train.py data/features model.pkl
    nt track --observe -- python train.py data/features model.pkl
    """
    from ntrk.declare import Declared

    ctx.exit(_track(_repo(), argv, Declared(inputs, outputs), observe).exit_code)


def _track(
    repo: Repo, argv: Sequence[str], declared: Declared | None = None, observe: bool | None = None
) -> TrackResult:
    """Run one tracked command and say how to keep its record."""
    from ntrk.commands import hook, install_hooks
    from ntrk.commands.track import track as run_tracked
    from ntrk.declare import NOTHING

    result = run_tracked(repo, argv, declared or NOTHING, observe)
    if result.record is not None:
        hooked, ignored = install_hooks.installed(repo), hook.log_is_ignored(repo)
        say(render.recorded(result.record, hooked, ignored))
    return result


@cli.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(render.TRACE_FORMATS),
    default="text",
    show_default=True,
    help="text: one line per step; json: the whole graph; dot: Graphviz; mermaid: Markdown; "
    "prov-json, prov-n: a W3C PROV document.",
)
def trace(file: Path, fmt: str) -> None:
    """Show how FILE was made, raw inputs first, FILE last.

    One line per step: inputs -> script @ commit -> output. A file that changed since it was
    recorded is marked [modified], one that is gone [missing].

    \b
    nt trace results/model.rds
    nt trace results/model.rds --format json | jq '.steps[].command'
    nt trace results/model.rds --format dot | dot -Tsvg > lineage.svg
    nt trace results/model.rds --format prov-n
    """
    from ntrk import repo as repo_mod
    from ntrk.commands import sync
    from ntrk.commands.trace import NoLineage
    from ntrk.commands.trace import trace as trace_file

    repo = repo_mod.find(Path.cwd())
    try:
        lineage = trace_file(repo, file)
    except NoLineage as error:
        never = sync.never_fetched(repo) if repo else []
        if not never:
            raise
        raise NtrkError(
            f"{error.what} here, and this clone never fetched lineage notes from {never[0]}",
            f"if others recorded it, fetch theirs (nt sync {never[0]}) and trace again",
        ) from error
    click.echo(render.trace(lineage, fmt), nl=False)


def _complete_remote(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    from ntrk.gitcli import run

    listed = run(Path.cwd(), "remote").stdout.split()
    return [name for name in listed if name.startswith(incomplete)]


@cli.command()
@click.argument("remote", required=False, shell_complete=_complete_remote)
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
    from ntrk.commands.sync import sync as sync_notes

    report = sync_notes(_repo(), remote, dry_run)
    for change in report.configured:
        say(f"{'would set' if dry_run else 'set'} {change}")
    click.echo(render.sync_summary(report, dry_run))


@cli.command("status")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of lines.")
def status_command(paths: tuple[Path, ...], as_json: bool) -> None:
    """Say which recorded outputs are out of date, and why.

    For the newest run that wrote each output (or each PATH): missing, modified (changed
    since the run), stale (an input or the script changed, or an upstream output is not ok),
    or ok. Exits 0 when everything is ok and 1 otherwise, so CI can use it.

    \b
    nt status
    nt status results/model.rds --json
    """
    from ntrk.commands import status as status_mod
    from ntrk.text import json_dumps

    repo = _repo()
    wanted = [_relpath(repo, path) for path in paths] or None
    results = status_mod.status(repo, wanted)
    if as_json:
        click.echo(json_dumps([entry.as_json() for entry in results], indent=2))
    else:
        for line in render.status_lines(results):
            click.echo(line)
    if not results:  # nothing recorded: a gate that checked nothing must not pass
        _say_no_runs(repo)
    ok = bool(results) and all(r.state == "ok" for r in results)
    click.get_current_context().exit(0 if ok else 1)


@cli.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True, help="Print the plan; run nothing.")
@click.option("--verify", is_flag=True, help="Compare each new output with the recorded one.")
@click.option("--all", "everything", is_flag=True, help="Re-run every step, not only stale ones.")
@click.option("--yes", is_flag=True, help="Run the plan without asking.")
def rerun(file: Path, dry_run: bool, verify: bool, everything: bool, yes: bool) -> None:
    """Make FILE again by re-running the recorded steps that lead to it.

    Only steps whose output is not ok (see nt status) run, roots first, unless --all. The plan
    is always shown first: commands come from records, which may come from other clones, so
    nothing runs without an answer at the terminal or --yes. Each step is an ordinary nt track
    at the current commit. --verify reports, per output, reproduced or differs (exit 1).

    \b
    nt rerun results/model.rds --dry-run
    nt rerun results/model.rds --all --verify --yes
    """
    from ntrk import declare
    from ntrk.commands import rerun as rerun_mod
    from ntrk.record import Record

    repo = _repo()
    planned = rerun_mod.plan(repo, file, everything)
    if not planned:
        click.echo(f"{file} is up to date; nothing to run (--all runs every step anyway)")
        return
    from ntrk.commands.trust import settings

    for line in render.rerun_plan(str(file), planned, settings(repo).env_command):
        click.echo(line)
    if dry_run:
        return
    if not yes:
        if not sys.stdin.isatty():
            raise NtrkError(
                "refusing to run commands from records without consent",
                "read the plan above, then rerun with --yes",
            )
        if not click.confirm("run these commands?", default=False):
            raise NtrkError("nothing was run", "answer y, or pass --yes")

    def run_step(step: Record) -> tuple[int, Record | None]:
        declared = declare.from_record(repo, step)
        result = _track(repo, list(step.command), declared, bool(step.observed_by) or None)
        return result.exit_code, result.record

    verdicts = rerun_mod.execute(repo, planned, run_step)
    if verify:
        for verdict in verdicts:
            click.echo(render.verdict_line(verdict))
        if not all(verdict.reproduced for verdict in verdicts):
            click.get_current_context().exit(1)


@cli.command("trust")
@click.option("--revoke", is_flag=True, help="Withdraw every approval in this clone.")
def trust_command(revoke: bool) -> None:
    """Let ntrk.toml's [record] table (and openlineage.yml) apply, as the files are now.

    A committed ntrk.toml comes with every clone, so what its [record] table asks records
    to hold (record.hostname, record.env_vars) and the program it names
    (record.env_command) apply only once you approve that exact file content here. Any
    later edit to the file needs a new approval. Your own
    `git config ntrk.envCommand "pip freeze"` needs none.

    \b
    nt trust
    nt trust --revoke
    """
    from ntrk.commands import trust

    repo = _repo()
    if revoke:
        click.echo("approvals withdrawn" if trust.revoke(repo) else "nothing was trusted")
        return
    approval = trust.trust(repo)
    click.echo(render.approval(approval))


@cli.command("log")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the records as a JSON list.")
@click.option("-n", "--max-count", type=click.IntRange(min=1), help="Show at most this many.")
def log_command(path: Path | None, as_json: bool, max_count: int | None) -> None:
    """List recorded runs, newest first: id, time, commit, duration, command, outputs.

    With PATH, only the runs that read or wrote it.

    \b
    nt log
    nt log data/clean.csv -n 5
    nt log --json | jq '.[0].command'
    """
    from ntrk.commands import log
    from ntrk.text import json_dumps

    repo = _repo()
    relpath = _relpath(repo, path) if path else None
    found = log.runs(repo, relpath, max_count)
    if as_json:
        click.echo(json_dumps([rec.to_dict() for rec in found], indent=2))
    else:
        for rec in found:
            click.echo(render.log_line(rec))
    if not found and (relpath is None or not log.runs(repo, None, 1)):
        _say_no_runs(repo)
    elif not found:
        say(f"no recorded run read or wrote {relpath}")


def _say_no_runs(repo: Repo) -> None:
    from ntrk.commands import sync

    say(render.no_runs(sync.never_fetched(repo)))


@cli.group()
def export() -> None:
    """Write the recorded runs in a format other lineage tools read.

    \b
    nt export openlineage > events.ndjson
    """


@export.command("openlineage")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the events to this file instead of standard output.",
)
@click.option("--emit", is_flag=True, help="Send them through the configured transport.")
def export_openlineage(paths: tuple[Path, ...], output: Path | None, emit: bool) -> None:
    """Write recorded runs as OpenLineage events, one JSON object per line.

    All runs, oldest first, or those in the lineage of each PATH, raw inputs first: START
    then COMPLETE per run, at the recorded times, as nt track sends them when OpenLineage is
    configured. Backfills a lineage service (Marquez, DataHub, ...) with runs recorded before
    it existed. --emit sends them through the transport configured as for any OpenLineage
    client (OPENLINEAGE_URL, openlineage.yml). Needs pip install 'ntrk[openlineage]'.

    \b
    nt export openlineage > events.ndjson
    nt export openlineage results/model.rds -o model.ndjson
    OPENLINEAGE_URL=http://localhost:5000 nt export openlineage --emit
    """
    from ntrk import config, safeio
    from ntrk.commands.export import runs
    from ntrk.export import client_config, delivery, openlineage

    if emit and output is not None:
        raise click.UsageError("--emit sends the events; -o writes them: choose one")
    if not delivery.installed():
        raise NtrkError("the OpenLineage client is not installed", client_config.EXTRA_HINT)
    repo = _repo()
    found = runs(repo, paths)
    events = openlineage.record_events(found, repo, config.load(repo.root))
    if emit:
        if not events:
            say("no recorded runs; nothing sent")
            return
        where = openlineage.emit(events, repo)
        say(f"sent {len(events)} event(s) of {len(events) // 2} run(s) to {where}")
        return
    text = "".join(openlineage.to_json(event) + "\n" for event in events)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        safeio.write_atomic(output, text.encode("utf-8"))
    except OSError as exc:
        raise NtrkError(f"cannot write {output}: {exc.strerror}", "choose another file") from exc
    say(f"wrote {len(events)} event(s) of {len(events) // 2} run(s) to {output}")


def _repo() -> Repo:
    """The repository whose work tree holds the current directory."""
    from ntrk import repo as repo_mod

    return repo_mod.discover(Path.cwd())


def _relpath(repo: Repo, path: Path) -> str:
    relpath = repo.relpath(path)
    if relpath is None:
        raise NtrkError(f"{path} is outside the repository", "name a path inside it")
    return str(relpath)


@cli.command("install-hooks")
@click.option("--push-notes", is_flag=True, help="Also sync lineage notes on every git push.")
@click.option(
    "--tracked",
    is_flag=True,
    help="Install into a hooks folder the repository shares (core.hooksPath=.githooks).",
)
@click.option("--uninstall", is_flag=True, help="Remove ntrk's hooks; put back what they replaced.")
def install_hooks(push_notes: bool, tracked: bool, uninstall: bool) -> None:
    """Install git hooks that keep the lineage log with the code.

    The pre-commit hook stages .ntrk/runs.jsonl (and the sidecars of staged outputs), so every
    commit carries the runs recorded so far. With --push-notes, a pre-push hook runs nt sync for
    the remote being pushed to. Hooks already there are kept and run first. Also sets the notes
    config that nt sync sets. A hooks folder inside the work tree (core.hooksPath) is shared
    with everyone who clones: installing there takes --tracked, and the hooks then call nt
    from PATH. --uninstall also finds ntrk's hooks where pre-commit, lefthook or husky moved
    them.

    \b
    nt install-hooks
    nt install-hooks --push-notes
    nt install-hooks --uninstall
    """
    from ntrk.commands import install_hooks as hooks
    from ntrk.store import configure_notes

    repo = _repo()
    if uninstall:
        changes = hooks.uninstall(repo)
        for change in changes:
            click.echo(render.hook_change(change))
        if not changes:
            click.echo("no ntrk hooks were installed")
        return
    names = hooks.DEFAULT_HOOKS + (hooks.PUSH_HOOKS if push_notes else ())
    for change in hooks.install(repo, names, tracked):
        click.echo(render.hook_change(change))
    for setting in configure_notes(repo):
        click.echo(f"set {setting}")
    if tracked:
        say(render.tracked_hooks(hooks.hooks_dir(repo).relative_to(repo.root)))


@cli.command(hidden=True)
@click.argument("name", type=click.Choice(["pre-commit", "post-commit", "pre-push"]))
@click.argument("remote", required=False)
@click.pass_context
def hook(ctx: click.Context, name: str, remote: str | None) -> None:
    """Run the work of ntrk's git hook NAME (called by the installed hook scripts).

    \b
    nt hook pre-commit
    """
    from ntrk.errors import broken_installation

    try:
        left_out = _hook_work(name, remote)
    except NtrkError as error:  # a hook warns; it never stops git because of ntrk
        say(f"warning: {error}")
        return
    except ImportError as error:  # one line, not a traceback per hook; pre-commit's suffices
        if name != "post-commit":
            say(f"warning: {broken_installation(error)}")
        return
    if left_out:  # only under the pre-commit framework: a pass would lose the runs
        say(render.left_out(left_out))
        ctx.exit(1)


def _hook_work(name: str, remote: str | None) -> list[str]:
    """Do hook NAME's work; the lineage files the commit must not go without, if any."""
    from ntrk.commands import hook as hook_work
    from ntrk.commands.sync import sync as sync_notes

    repo = _repo()
    if name == "pre-commit":
        return hook_work.pre_commit(repo).left_out
    if name == "post-commit":
        hook_work.post_commit(repo)
    elif remote:
        try:
            report = sync_notes(repo, remote)
        except NtrkError as error:
            raise NtrkError(f"notes not synced with {remote}: {error.what}", error.hint) from error
        say(f"notes synced with {remote}: {render.sync_summary(report, dry_run=False)}")
    return []


# What an interrupted command leaves behind, by command; read commands leave nothing.
_INTERRUPTED = {
    "track": "interrupted — nothing was recorded",
    "rerun": "interrupted — the steps that had finished are recorded; the rest did not run",
    "sync": "interrupted — run nt sync again to finish sharing the notes",
    "install-hooks": "interrupted — run nt install-hooks again",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and turn every outcome into an exit code; never a traceback."""
    args = list(argv) if argv is not None else sys.argv[1:]
    prog = "ntrk" if Path(sys.argv[0]).name == "ntrk" else "nt"
    try:
        result: Any = cli.main(args=args, prog_name=prog, standalone_mode=False)
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.UsageError as error:
        if type(error).__name__ == "NoArgsIsHelpError":  # plain `nt`: the help, on stderr
            error.show()
        else:
            say(_usage_line(error, prog))
        return error.exit_code
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except NtrkError as error:
        say(str(error))
        return error.exit_code
    except (KeyboardInterrupt, click.Abort):
        command = next((arg for arg in args if not arg.startswith("-")), "")
        say(_INTERRUPTED.get(command, "interrupted"))
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`nt trace x | head`); silence the flush at exit as well.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except ImportError as error:  # a dependency missing: the installation, not ntrk, is broken
        from ntrk.errors import broken_installation

        say(str(broken_installation(error)))
        return 1
    except Exception as error:  # a bug in ntrk, not something the user did
        return _report_internal_error(error)
    return result if isinstance(result, int) else 0


def _usage_line(error: click.UsageError, prog: str) -> str:
    """A usage error as every other failure: `what — what to do`, on one line."""
    what = " ".join(error.format_message().split()).rstrip(".")
    if what[:1].isupper() and not what[1:2].isupper():
        what = what[0].lower() + what[1:]
    command = error.ctx.command_path if error.ctx is not None else prog
    return f"{what} — see {command} --help"


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
