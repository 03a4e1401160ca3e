"""`ntrk.toml`: extra input/output flag names, added to the built-in ones.

    [flags]
    inputs  = ["--source"]
    outputs = ["--dest"]

    [record]
    hostname = true                          # record the machine's name (off by default)
    env_vars = ["CUDA_VISIBLE_DEVICES"]      # fingerprint these variables' values
    env_command = "pip freeze"               # fingerprint this command's output

    [track]
    observe = true                           # nt track --observe by default
    warn_unlisted = false                    # no warning about files a step used unlisted

Configured flags are added to the built-ins, never replace them, so the conventional flags keep
working in every repository. A malformed file is an error (naming file, line and column) rather
than silently ignored, since ignoring it would record runs with the wrong inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ntrk.console import warn
from ntrk.errors import NtrkError
from ntrk.layout import CONFIG_NAME

DEFAULT_INPUT_FLAGS = frozenset({"-i", "--in", "--input"})
DEFAULT_OUTPUT_FLAGS = frozenset({"-o", "--out", "--output"})
_KNOWN = {
    "flags": {"inputs", "outputs"},
    "record": {"hostname", "env_vars", "env_command"},
    "track": {"observe", "warn_unlisted"},
}


@dataclass(frozen=True)
class Config:
    """What a repository's `ntrk.toml` says, merged with the built-in defaults."""

    input_flags: frozenset[str] = DEFAULT_INPUT_FLAGS
    output_flags: frozenset[str] = DEFAULT_OUTPUT_FLAGS
    hostname: bool = False
    env_vars: tuple[str, ...] = ()
    env_command: str | None = None
    observe: bool = False
    warn_unlisted: bool = True


def load(root: Path) -> Config:
    """Read `ntrk.toml` at the repository root, if there is one."""
    path = root / CONFIG_NAME
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Config()
    except OSError as exc:
        raise NtrkError(
            f"cannot read {CONFIG_NAME}: {exc.strerror}", "check the file's permissions"
        ) from exc
    import tomllib  # here: most repositories have no ntrk.toml, and the import costs 4 ms

    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise NtrkError(f"{CONFIG_NAME} is not UTF-8 text", "save it as UTF-8") from exc
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message already ends in "(at line L, column C)".
        raise NtrkError(f"{CONFIG_NAME}: {exc}", f"fix the TOML syntax in {path}") from exc
    _warn_unknown_keys(data)
    flags, recording = _table(data, "flags"), _table(data, "record")
    tracking = _table(data, "track")
    hostname = recording.get("hostname", False)
    env_vars = recording.get("env_vars", [])
    env_command = recording.get("env_command")
    if not isinstance(hostname, bool):
        raise NtrkError(f"{CONFIG_NAME}: record.hostname must be true or false", "fix its value")
    if not isinstance(env_vars, list) or not all(isinstance(v, str) for v in env_vars):
        raise NtrkError(
            f"{CONFIG_NAME}: record.env_vars must be a list of names", 'write env_vars = ["NAME"]'
        )
    if env_command is not None and not (isinstance(env_command, str) and env_command.strip()):
        raise NtrkError(
            f"{CONFIG_NAME}: record.env_command must be a command line",
            'write env_command = "pip freeze"',
        )
    return Config(
        input_flags=DEFAULT_INPUT_FLAGS | _flag_list(flags, "inputs"),
        output_flags=DEFAULT_OUTPUT_FLAGS | _flag_list(flags, "outputs"),
        hostname=hostname,
        env_vars=tuple(env_vars),
        env_command=env_command,
        observe=_switch(tracking, "observe", False),
        warn_unlisted=_switch(tracking, "warn_unlisted", True),
    )


def _table(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise NtrkError(f"{CONFIG_NAME}: [{name}] is not a table", f"write it as [{name}]")
    return value


def _switch(table: dict[str, Any], key: str, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise NtrkError(f"{CONFIG_NAME}: track.{key} must be true or false", "fix its value")
    return value


def _flag_list(flags: dict[str, Any], key: str) -> frozenset[str]:
    value = flags.get(key, [])
    if not isinstance(value, list) or not all(
        isinstance(flag, str) and flag.startswith("-") for flag in value
    ):
        raise NtrkError(
            f"{CONFIG_NAME}: flags.{key} must be a list of flag names",
            f'write it as {key} = ["--{key[:-1]}"]',
        )
    return frozenset(value)


def _warn_unknown_keys(data: dict[str, Any]) -> None:
    for key, value in data.items():
        if key not in _KNOWN:
            warn(f"{CONFIG_NAME}: unknown table or key '{key}' ignored")
        elif isinstance(value, dict):
            for sub in value:
                if sub not in _KNOWN[key]:
                    warn(f"{CONFIG_NAME}: unknown key '{key}.{sub}' ignored")
