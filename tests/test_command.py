"""The argv classifier: 0.1.0's rules, and properties that must hold for any argv."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ntrk.classify import classify
from ntrk.config import Config

CONFIG = Config()


def test_greedy_flags_split_on_commas() -> None:
    parsed = classify(["python", "x.py", "-i", "a.csv", "b.csv,c.csv", "-o", "x,y"], CONFIG)
    assert parsed.inputs == ("a.csv", "b.csv", "c.csv")
    assert parsed.outputs == ("x", "y")
    assert parsed.script == "x.py"


def test_inline_value_takes_only_itself() -> None:
    parsed = classify(["tool", "--input=a,b", "c", "--out=d"], CONFIG)
    assert parsed.inputs == ("a", "b") and parsed.outputs == ("d",)


def test_all_builtin_flags() -> None:
    parsed = classify(["t", "--in", "a", "--input", "b", "--out", "c", "--output", "d"], CONFIG)
    assert parsed.inputs == ("a", "b") and parsed.outputs == ("c", "d")


def test_configured_flags_add_to_builtins() -> None:
    config = Config(CONFIG.input_flags | {"--source"}, CONFIG.output_flags | {"--dest"})
    parsed = classify(["t", "--source", "a", "-i", "b", "--dest", "c"], config)
    assert parsed.inputs == ("a", "b") and parsed.outputs == ("c",)


@pytest.mark.parametrize(
    ("argv", "script"),
    [
        (["python", "-u", "run.py", "-i", "a.py"], "run.py"),
        (["Rscript", "fit.R"], "fit.R"),
        (["python3.11", "-m", "pkg.mod"], "pkg.mod"),
        (["/usr/bin/python", "-u", "prog"], "prog"),
        (["bash", "-c", "echo"], "echo"),
        (["./bin/tool", "-o", "x"], "./bin/tool"),
        (["cp", "-i", "a", "-o", "b"], "cp"),
        (["-o", "x"], "-o"),
        (["julia", "-o", "x.jl"], "julia"),
    ],
)
def test_script_detection(argv: list[str], script: str | None) -> None:
    assert classify(argv, CONFIG).script == script


tokens = st.one_of(
    st.sampled_from(["-i", "-o", "--in", "--out", "--input", "--output", "-v", "--x", "python"]),
    st.from_regex(r"(-i|-o|--in|--out)=[a-z,]{0,6}", fullmatch=True),
    st.from_regex(r"[a-z][a-z.,]{0,6}", fullmatch=True),
)


@given(st.lists(tokens, max_size=12))
def test_each_token_lands_in_at_most_one_role(argv: list[str]) -> None:
    parsed = classify(argv, CONFIG)
    pieces = sum(
        len([p for p in token.partition("=")[2 if "=" in token else 0].split(",") if p])
        for token in argv
    )
    assert len(parsed.inputs) + len(parsed.outputs) <= pieces
    assert parsed.argv == tuple(argv)
    if parsed.script is not None and parsed.script != argv[0]:  # argv[0]: the last resort
        assert parsed.script not in set(parsed.inputs) | set(parsed.outputs)
    for item in parsed.inputs + parsed.outputs:
        assert item and "," not in item and not item.startswith("-")


@given(st.lists(tokens, max_size=6), st.from_regex(r"[a-z]{1,6}", fullmatch=True))
def test_inline_flag_never_consumes_the_next_token(prefix: list[str], following: str) -> None:
    argv = [*prefix, "--in=q", following]
    without = classify([*prefix, "--in=q"], CONFIG)
    with_next = classify(argv, CONFIG)
    assert without.inputs[-1:] == ("q",)
    assert with_next.inputs == without.inputs
    assert with_next.outputs == without.outputs
