"""`ntrk.toml`: extra input/output flag names, added to the built-in ones.

    [flags]
    inputs  = ["--source"]
    outputs = ["--dest"]

    [record]
    hostname = true                          # record the machine's name (off by default)
    env_vars = ["CUDA_VISIBLE_DEVICES"]      # fingerprint these variables' values
    env_command = "pip freeze"               # fingerprint this command's output

    [openlineage]
    namespace = "team-ml"                    # the job namespace of OpenLineage events
    [track]
    observe = true                           # nt track --observe by default
    warn_unlisted = false                    # no warning about files a step used unlisted

Configured flags are added to the built-ins, never replace them, so the conventional flags keep
working in every repository. A malformed file is an error (naming file, line and column) rather
than silently ignored, since ignoring it would record runs with the wrong inputs.

A configured flag that is a built-in flag of the other kind (`inputs = ["-o"]`), or that is
listed as both, is an error: it would take the built-in's meaning away.

**A committed `ntrk.toml` is data until the user trusts it.** It arrives with every clone, so
its `[record]` table, which decides what leaves the machine in every record (the hostname, a
fingerprint of named environment variables, a program's output), applies only after the user
approved that exact file content with `nt trust` (its sha256 is kept in the git directory, like
`direnv allow`; any edit needs a new approval). Until then `nt track` records without it and
says so. An unsalted md5 of `PGPASSWORD=<value>` is a secret a dictionary reverses; a program
named there would run on every `nt track`. The user's own git config can name the program
(`git config ntrk.envCommand "pip freeze"`, which no clone can set). The file is read without
following a symbolic link, as a regular file of at most 1 MiB.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ntrk.console import warn
from ntrk.errors import NtrkError
from ntrk.layout import CONFIG_NAME, TRUST_FILE
from ntrk.safeio import read_regular, write_atomic

MAX_CONFIG_BYTES = 1 << 20

DEFAULT_INPUT_FLAGS = frozenset({"-i", "--in", "--input"})
DEFAULT_OUTPUT_FLAGS = frozenset({"-o", "--out", "--output"})
_KNOWN = {
    "flags": {"inputs", "outputs"},
    "record": {"hostname", "env_vars", "env_command"},
    "openlineage": {"namespace"},
    "track": {"observe", "warn_unlisted"},
}


@dataclass(frozen=True)
class Config:
    """What a repository's `ntrk.toml` says, merged with the built-in defaults."""

    input_flags: frozenset[str] = DEFAULT_INPUT_FLAGS
    output_flags: frozenset[str] = DEFAULT_OUTPUT_FLAGS
    hostname: bool = False
    env_vars: tuple[str, ...] = ()
    env_command: str | None = None  # the program that will run: trusted, or the user's own
    # `[record]` settings of an ntrk.toml nobody trusted yet, as (setting, value) to show:
    # not applied until `nt trust`.
    untrusted: tuple[tuple[str, str], ...] = ()
    digest: str | None = None  # sha256 of ntrk.toml's bytes, what `nt trust` approves
    openlineage_namespace: str | None = None
    observe: bool = False
    warn_unlisted: bool = True


def load(root: Path, trust_dir: Path | None = None, user_env_command: str | None = None) -> Config:
    """Read `ntrk.toml` at the repository root, if there is one.

    `trust_dir` holds the approvals of `nt trust`; `user_env_command` is the program the user
    named in their own configuration, which wins over the file's.
    """
    path = root / CONFIG_NAME
    try:
        raw = read_regular(path, MAX_CONFIG_BYTES)
    except OSError as exc:
        raise NtrkError(
            f"cannot read {CONFIG_NAME} ({exc.strerror})",
            f"ntrk reads {CONFIG_NAME} only as a regular file of at most "
            f"{MAX_CONFIG_BYTES // 1024} KiB; replace or remove it",
        ) from exc
    if raw is None:
        return Config(env_command=user_env_command)
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
    namespace = _table(data, "openlineage").get("namespace")
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
    if namespace is not None and not (isinstance(namespace, str) and namespace.strip()):
        raise NtrkError(
            f"{CONFIG_NAME}: openlineage.namespace must be a name",
            'write namespace = "my-team"',
        )
    digest = hashlib.sha256(raw).hexdigest()
    asked = [
        *([("record.hostname", "true")] if hostname else []),
        *([("record.env_vars", ", ".join(env_vars))] if env_vars else []),
        *([("record.env_command", env_command)] if env_command and not user_env_command else []),
    ]
    trusted = not asked or digest in trusted_digests(trust_dir)
    input_flags, output_flags = _flag_list(flags, "inputs"), _flag_list(flags, "outputs")
    return Config(
        input_flags=DEFAULT_INPUT_FLAGS | input_flags,
        output_flags=DEFAULT_OUTPUT_FLAGS | output_flags,
        hostname=hostname and trusted,
        env_vars=tuple(env_vars) if trusted else (),
        env_command=user_env_command or (env_command if trusted else None),
        untrusted=() if trusted else tuple(asked),
        digest=digest,
        openlineage_namespace=namespace,
        observe=_switch(tracking, "observe", False),
        warn_unlisted=_switch(tracking, "warn_unlisted", True),
    )


def trusted_digests(trust_dir: Path | None) -> set[str]:
    """The sha256 digests of the `ntrk.toml` contents the user trusted in this clone."""
    if trust_dir is None:
        return set()
    try:
        raw = read_regular(trust_dir / TRUST_FILE, MAX_CONFIG_BYTES)
    except OSError:
        return set()
    return set((raw or b"").decode("ascii", errors="replace").split())


def trust(trust_dir: Path, digest: str) -> None:
    """Remember that the user trusts the `ntrk.toml` whose bytes have this sha256."""
    known = trusted_digests(trust_dir)
    trust_dir.mkdir(parents=True, exist_ok=True)
    text = "".join(f"{line}\n" for line in sorted(known | {digest}))
    write_atomic(trust_dir / TRUST_FILE, text.encode("ascii"), mode=0o600, durable=True)


def revoke(trust_dir: Path) -> bool:
    """Forget every approval; whether there was one."""
    known = trusted_digests(trust_dir)
    if known:
        (trust_dir / TRUST_FILE).unlink()
    return bool(known)


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
    """The flag names configured for `key` (inputs or outputs): never one the other kind has,
    built in or configured."""
    value = flags.get(key, [])
    if not isinstance(value, list) or not all(
        isinstance(flag, str) and flag.startswith("-") for flag in value
    ):
        raise NtrkError(
            f"{CONFIG_NAME}: flags.{key} must be a list of flag names",
            f'write it as {key} = ["--{key[:-1]}"]',
        )
    other = "outputs" if key == "inputs" else "inputs"
    other_value = flags.get(other, [])
    taken = (DEFAULT_OUTPUT_FLAGS if key == "inputs" else DEFAULT_INPUT_FLAGS) | frozenset(
        flag
        for flag in (other_value if isinstance(other_value, list) else [])
        if isinstance(flag, str)
    )
    clash = sorted(taken.intersection(value))
    if clash:
        raise NtrkError(
            f"{CONFIG_NAME}: flags.{key} names {', '.join(clash)}, which marks {other}",
            f"remove it from flags.{key}; a flag is either an input's or an output's",
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
