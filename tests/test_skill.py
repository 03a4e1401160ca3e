"""The `ntrk` agent skill, and the manifests that make this repository a Claude Code marketplace.

The skill is text an agent acts on, so it is held to the CLI: every `nt …` line in its code
blocks parses with the real click parser, every message it quotes is one ntrk prints, and
Claude Code's own validator (`claude plugin validate`) accepts the manifests and the skill.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from conftest import NT, Outcome, commit_all, make_repo, nt, read_log

from ntrk import __version__, config
from ntrk.classify import classify
from ntrk.cli import cli as nt_cli

ROOT = Path(__file__).resolve().parent.parent
MANIFESTS = ROOT / ".claude-plugin"
SKILL_PATH = ROOT / "skills" / "ntrk" / "SKILL.md"
SKILL = SKILL_PATH.read_text(encoding="utf-8")
REPOSITORY = "https://github.com/tim-hudelmaier/ntrk"
MAX_SKILL_LINES = 150  # an agent loads the whole file whenever the skill triggers


def manifest(name: str) -> dict[str, Any]:
    data = json.loads((MANIFESTS / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def frontmatter(text: str) -> tuple[dict[str, Any], str]:
    """The YAML between the leading `---` lines, parsed, and the Markdown after it."""
    match = re.match(r"---\n(.*?)\n---\n", text, flags=re.S)
    assert match, "SKILL.md must open with YAML frontmatter between --- lines"
    data = yaml.safe_load(match.group(1))
    assert isinstance(data, dict)
    return data, text[match.end() :]


def section(markdown: str, title: str) -> str:
    start = markdown.index(f"\n## {title}\n")
    end = markdown.find("\n## ", start + 1)
    return markdown[start : end if end != -1 else None]


def code_blocks(markdown: str) -> list[tuple[str, list[str]]]:
    """Each fenced code block's language and lines; fences may be indented (in a list item)."""
    blocks: list[tuple[str, list[str]]] = []
    lines: list[str] | None = None
    language = ""
    for line in markdown.split("\n"):
        stripped = line.strip()
        if lines is None and stripped.startswith("```"):
            language, lines = stripped[3:].strip(), []
        elif lines is not None and stripped == "```":
            blocks.append((language, lines))
            lines = None
        elif lines is not None:
            lines.append(stripped)
    assert lines is None, "a code block is not closed"
    return blocks


def shell_words(line: str) -> list[str]:
    """A shell line's words, as the shell splits them, up to a pipe, redirect, `;` or comment."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    words = []
    for word in lexer:
        if word and set(word) <= set("|&;<>()"):
            break
        words.append(word)
    return words


def skill_command_lines() -> list[list[str]]:
    """Every `nt …` line in the skill's code blocks, as words (a `$ ` prompt dropped)."""
    found = []
    for _, lines in code_blocks(SKILL):
        for line in lines:
            words = shell_words(line.removeprefix("$ "))
            if words[:1] == ["nt"]:
                found.append(words)
    return found


def inline_nt_spans(markdown: str) -> list[list[str]]:
    """The words of every inline code span that starts with `nt ` (outside code blocks), once."""
    prose = re.sub(r"^\s*```.*?^\s*```", "", markdown, flags=re.S | re.M)
    spans = dict.fromkeys(re.findall(r"`(nt [^`\n]+)`", prose))
    return [shell_words(span) for span in spans]


def parse_nt(words: Sequence[str]) -> click.Context:
    """Parse `nt WORDS…` with the CLI's own click parser, without running the command.

    Raises click.UsageError (or its subclasses) exactly where `nt` itself would exit 2.
    """
    command: click.Command = nt_cli
    name, parent, rest = "nt", None, list(words)
    while isinstance(command, click.Group):
        ctx = click.Context(command, info_name=name, parent=parent)
        if not rest:
            raise click.UsageError("missing a command", ctx)
        found_name, found, rest = command.resolve_command(ctx, rest)
        assert found_name is not None and found is not None  # else it raised NoSuchCommand
        command, name, parent = found, found_name, ctx
    return command.make_context(name, rest, parent=parent)


def command_path(words: Sequence[str]) -> list[str]:
    """The leading words of `nt WORDS…` that name a command (`export openlineage`)."""
    command: click.Command = nt_cli
    path = []
    for word in words:
        if not isinstance(command, click.Group) or word not in command.commands:
            break
        command = command.commands[word]
        path.append(word)
    return path


# --- the manifests -----------------------------------------------------------------------------


def test_the_marketplace_lists_this_repository_as_its_one_plugin() -> None:
    market = manifest("marketplace.json")
    assert market["name"] == "ntrk"  # `/plugin install ntrk@ntrk`
    assert market["owner"] == {"name": "tim-hudelmaier"}
    assert market["description"]
    (entry,) = market["plugins"]
    assert entry["name"] == manifest("plugin.json")["name"]
    assert entry["source"] == "./"  # the repository root is the plugin
    assert entry["description"] and entry["license"] == "MIT"
    assert entry["homepage"] == entry["repository"] == REPOSITORY
    assert "version" not in entry  # one version, in plugin.json, kept equal to the package's


def test_the_plugin_manifest_names_the_project() -> None:
    plugin = manifest("plugin.json")
    assert plugin["name"] == "ntrk"
    assert plugin["description"]
    assert plugin["author"] == {"name": "tim-hudelmaier"}
    assert plugin["license"] == "MIT"
    assert plugin["homepage"] == plugin["repository"] == REPOSITORY


def test_the_plugin_version_is_the_package_version() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert manifest("plugin.json")["version"] == pyproject["project"]["version"] == __version__


def test_the_skill_lies_at_the_plugin_root_not_under_claude_plugin() -> None:
    # Claude Code reads components (skills/, commands/, hooks/) from the plugin's root;
    # .claude-plugin/ holds only the manifests and the listing icon.
    listed = sorted(path.name for path in MANIFESTS.iterdir())
    assert listed == ["icon.png", "marketplace.json", "plugin.json"]
    assert SKILL_PATH.is_file() and SKILL_PATH.parent.parent == ROOT / "skills"


def test_the_sdist_carries_the_plugin(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    (sdist,) = tmp_path.glob("ntrk-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {".claude-plugin/marketplace.json", ".claude-plugin/plugin.json"} <= names
    assert "skills/ntrk/SKILL.md" in names


def test_the_readme_install_lines_name_this_marketplace_and_plugin() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ((_, lines),) = code_blocks(section(readme, "Use with coding agents"))
    owner_repo = REPOSITORY.removeprefix("https://github.com/")
    plugin, market = manifest("plugin.json")["name"], manifest("marketplace.json")["name"]
    assert lines == [f"/plugin marketplace add {owner_repo}", f"/plugin install {plugin}@{market}"]


# --- the skill's text --------------------------------------------------------------------------


def test_the_frontmatter_names_the_skill_and_carries_its_triggers() -> None:
    data, body = frontmatter(SKILL)
    # The portable Agent Skills fields only. In particular no `allowed-tools`: the skill must not
    # pre-approve any command (nt rerun, nt trust), so the agent still asks before running one.
    assert set(data) == {"name", "description"}
    assert data["name"] == "ntrk" == SKILL_PATH.parent.name
    description = data["description"]
    assert isinstance(description, str) and len(description) <= 1024  # Agent Skills' limit
    for trigger in (
        "reads input files and writes output files",
        "how a file was made",
        "up to date",
        "reproduce",
        "nt track",
        "nt trace",
    ):
        assert trigger in description, trigger
    assert body.lstrip().startswith("# ")


def test_the_skill_stays_short() -> None:
    assert len(SKILL.split("\n")) <= MAX_SKILL_LINES


def test_the_skill_says_what_an_agent_must_never_do() -> None:
    never = section(SKILL, "Never")
    for rule in (
        "Never `git stash`",
        "Never pass `--yes` to `nt rerun` on the user's behalf",
        "Never run `nt trust`",
        "Never edit, rewrite or delete `.ntrk/runs.jsonl`, sidecars (`.NAME.ntrk`) or the notes",
        "Never install hooks with `--tracked`",
    ):
        assert rule in " ".join(never.split()), rule


def test_the_skill_covers_the_workflow() -> None:
    used = {" ".join(command_path(words[1:])) for words in skill_command_lines()}
    assert used >= {"track", "trace", "status", "log", "rerun"}
    mentioned = {" ".join(command_path(words[1:])) for words in inline_nt_spans(SKILL)}
    assert used | mentioned >= {"install-hooks", "sync", "trust"}


# --- the skill against the CLI -----------------------------------------------------------------

COMMAND_LINES = skill_command_lines()


def test_the_skill_has_command_lines_to_check() -> None:
    assert len(COMMAND_LINES) >= 15


@pytest.mark.parametrize("words", COMMAND_LINES, ids=" ".join)
def test_each_command_line_parses_with_the_real_cli(words: list[str]) -> None:
    parse_nt(words[1:])


TRACK_LINES = [words for words in COMMAND_LINES if words[1] == "track"]


@pytest.mark.parametrize("words", TRACK_LINES, ids=" ".join)
def test_each_track_line_passes_its_command_through_and_records_an_output(
    words: list[str], tmp_path: Path
) -> None:
    params = parse_nt(words[1:]).params
    argv = list(params["argv"])
    own = words[2 : len(words) - len(argv)]
    assert words[len(words) - len(argv) :] == argv  # the command's words, verbatim
    assert own == [] or own[-1] == "--"  # ntrk's own options end with --
    # With the flag names the skill's own ntrk.toml example adds, as ntrk would load them.
    (toml,) = [lines for language, lines in code_blocks(SKILL) if language == "toml"]
    (tmp_path / "ntrk.toml").write_text("\n".join(toml) + "\n", encoding="utf-8")
    flags = config.load(tmp_path)
    assert classify(argv, flags).outputs or params["outputs"] or params["observe"]


@pytest.mark.parametrize("words", inline_nt_spans(SKILL), ids=" ".join)
def test_each_inline_nt_span_names_a_command_or_parses(words: list[str]) -> None:
    """`nt rerun` in prose names a command; a longer span is a whole command line."""
    if words[1:] == command_path(words[1:]) and words[1:]:
        return
    try:
        parse_nt(words[1:])
    except click.exceptions.Exit as done:  # `nt --version`: eager, exits 0
        assert done.exit_code == 0


@pytest.mark.parametrize(
    "line",
    [
        "nt trace out.csv --format svg",
        "nt track -o model.pkl python train.py",
        "nt track -i",
        "nt rerun out.csv --force",
        "nt stats",
        "nt log -n 0",
        "nt trace",
        "nt export openlineage --emitt",
    ],
)
def test_the_check_rejects_what_nt_rejects(line: str, repo: Path, cli: Any) -> None:
    words = shell_words(line)
    with pytest.raises(click.UsageError):
        parse_nt(words[1:])
    outcome: Outcome = cli(*words[1:])
    assert outcome.code == 2, outcome.err


def test_the_messages_the_skill_quotes_are_the_ones_nt_prints(tmp_path: Path) -> None:
    """Run what the skill describes, and find each message it quotes in what nt says."""
    skill = " ".join(SKILL.split())
    root = make_repo(tmp_path / "work")
    (root / "params.yaml").write_text("alpha: 1\n")
    commit_all(root, "params")

    def said(*args: str) -> Outcome:
        return nt(root, *args)

    def quoted(message: str, outcome: Outcome) -> None:
        assert message in skill, message
        assert message in " ".join(outcome.err.split()), (message, outcome.err)

    (root / "notes.txt").write_text("the user's work\n")
    refused = said("track", "python", "step.py", "-i", "raw.csv", "-o", "clean.csv")
    assert refused.code == 1
    quoted("nt: refusing to run: uncommitted changes in", refused)
    (root / "notes.txt").unlink()

    recorded = said("track", "python", "step.py", "-i", "raw.csv", "-o", "clean.csv")
    assert recorded.code == 0
    quoted("commit .ntrk/runs.jsonl to keep it", recorded)

    quoted("no tracked outputs produced; nothing recorded", said("track", "echo", "hi"))

    reads = "open('params.yaml').read(); open('out.txt', 'w').write('x')"
    unlisted = said("track", "python", "-c", reads, "-o", "out.txt")
    assert unlisted.code == 0
    quoted("which the record does not list", unlisted)
    assert "the run read X, which the record does not list" in skill
    assert "the run read params.yaml, which the record does not list" in unlisted.err

    quoted("no lineage found", said("trace", "raw.csv"))


def test_a_shell_redirect_is_wrapped_as_the_skill_says(repo: Path) -> None:
    assert "nt track python x.py > out.csv" in SKILL
    assert "nt track -o out.csv -- sh -c 'python x.py > out.csv'" in SKILL
    (repo / "x.py").write_text("print('made')\n")
    commit_all(repo, "x.py")
    with (repo / "out.csv").open("w") as out:  # what `nt track python x.py > out.csv` does
        done = subprocess.run(
            [NT, "track", "python", "x.py"], cwd=repo, stdout=out, stderr=subprocess.PIPE, text=True
        )
    assert done.returncode == 1  # the shell made out.csv before ntrk looked at the tree
    assert "uncommitted changes in out.csv" in done.stderr
    (repo / "out.csv").unlink()
    wrapped = nt(repo, "track", "-o", "out.csv", "--", "sh", "-c", "python x.py > out.csv")
    assert wrapped.code == 0, wrapped.err
    assert [output["path"] for output in read_log(repo)[-1]["outputs"]] == ["out.csv"]
    assert (repo / "out.csv").read_text() == "made\n"


# --- Claude Code's own validator ---------------------------------------------------------------


def claude() -> str:
    """The `claude` program; CI (which installs it, see .ci/run) must never skip this."""
    found = shutil.which("claude")
    if found is None:
        if "CI" in os.environ:
            pytest.fail("claude is not installed, and CI must validate the plugin (see .ci/run)")
        pytest.skip("claude is not installed (npm ci --prefix .ci/node, then add its bin to PATH)")
    return found


def validate(target: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """`claude plugin validate --strict [OPTIONS] TARGET`: warnings fail it too."""
    env = {**os.environ, "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}  # HOME is a temp dir
    return subprocess.run(
        [claude(), "plugin", "validate", "--strict", *options, "."],
        cwd=target,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_claude_code_validates_the_marketplace_plugin_and_skill() -> None:
    done = validate(ROOT)
    report = done.stdout + done.stderr
    assert done.returncode == 0, report
    assert "Validation passed" in report and "ntrk:ntrk" in report  # it found the skill


def test_the_plugin_passes_the_plugin_directorys_own_checks() -> None:
    """The checks the plugin directory runs on submission (the icon among them), strict."""
    done = validate(ROOT, "--profile", "directory")
    report = done.stdout + done.stderr
    assert done.returncode == 0, report
    assert "Validation passed" in report and "warning" not in report.lower(), report


def test_claude_code_validator_rejects_a_broken_skill(tmp_path: Path) -> None:
    """The check above can fail: the same files with a skill frontmatter Claude Code refuses."""
    shutil.copytree(MANIFESTS, tmp_path / ".claude-plugin")
    shutil.copytree(ROOT / "skills", tmp_path / "skills")
    skill = tmp_path / "skills" / "ntrk" / "SKILL.md"
    skill.write_text(SKILL.replace("name: ntrk\n", "name: ntrk\nallowed-tools: 5\n", 1))
    done = validate(tmp_path)
    assert done.returncode != 0 and "allowed-tools" in done.stdout + done.stderr
