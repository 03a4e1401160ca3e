"""Classify a wrapped command's tokens into inputs, outputs and the script.

An input/output flag is greedy: it takes every following token up to the next `-`-prefixed
one, and each taken token is split on commas. `--flag=a,b` takes only its inline value. So
`-i a.csv b.csv,c.csv -o out1,out2` gives inputs a, b, c and outputs out1, out2 (0.1.0's rule;
a file name with a comma or a leading `-` cannot be expressed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ntrk.config import Config

INTERPRETERS = frozenset(
    {"python", "python3", "python2", "Rscript", "bash", "sh", "node", "ruby", "perl", "julia"}
)
SOURCE_EXTENSIONS = (".py", ".R", ".r", ".sh", ".jl", ".rb", ".js", ".pl")


@dataclass(frozen=True)
class ClassifiedCommand:
    """The wrapped argv, verbatim, and what each part of it means to ntrk."""

    argv: tuple[str, ...]
    script: str | None
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


def classify(argv: Sequence[str], config: Config) -> ClassifiedCommand:
    """Find the inputs, outputs and script named in `argv`."""
    inputs: list[str] = []
    outputs: list[str] = []
    i = 0
    while i < len(argv):
        flag, eq, inline = argv[i].partition("=")
        if flag in config.input_flags:
            bucket = inputs
        elif flag in config.output_flags:
            bucket = outputs
        else:
            i += 1
            continue
        i += 1
        if eq:
            bucket.extend(_split(inline))
            continue
        while i < len(argv) and not argv[i].startswith("-"):
            bucket.extend(_split(argv[i]))
            i += 1
    classified = set(inputs) | set(outputs)
    return ClassifiedCommand(
        argv=tuple(argv),
        script=_detect_script(argv, classified),
        inputs=tuple(inputs),
        outputs=tuple(outputs),
    )


def _split(token: str) -> list[str]:
    return [part for part in token.split(",") if part]


def _is_interpreter(token: str) -> bool:
    base = token.rsplit("/", 1)[-1]
    return base in INTERPRETERS or base.startswith(("python", "Rscript"))


def _detect_script(argv: Sequence[str], classified: set[str]) -> str | None:
    for token in argv:
        if token not in classified and token.endswith(SOURCE_EXTENSIONS):
            return token
    for position, token in enumerate(argv):
        if _is_interpreter(token):
            for following in argv[position + 1 :]:
                if not following.startswith("-") and following not in classified:
                    return following
            break
    for token in argv:
        if not token.startswith("-") and token not in classified:
            return token
    return argv[0] if argv else None
