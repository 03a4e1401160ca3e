"""What a repository's runs and files are called outside ntrk, the same on every clone.

OpenLineage's naming convention (`Naming.md` in its spec) names a dataset by the namespace of
its data source and a name within it, and a job by a namespace set in the client's
configuration and a name unique in it. For files in a git repository:

| OpenLineage       | ntrk                                                                  |
|-------------------|-----------------------------------------------------------------------|
| dataset namespace | the repository URL; `file` when the repository has no remote          |
| dataset name      | the file's repository path; its absolute path when there is no remote |
| job namespace     | `OPENLINEAGE_NAMESPACE`, else `[openlineage] namespace` in ntrk.toml,  |
|                   | else the repository URL                                               |
| job name          | the script's repository path, else the command                        |
| run id            | the record's id as a UUID (`urn:uuid:` of the same UUID in PROV)      |

The repository URL is its remote's (the branch's upstream remote, else `origin`, else the only
remote) in https form, without credentials, port or `.git`: `git@github.com:org/repo.git`,
`https://token@github.com/org/repo` and `ssh://git@github.com/org/repo.git` all give
`https://github.com/org/repo`, so every clone names a file the same way. A remote that is a
local path gives its `file://` URL. Without a remote there is no name two clones share, so a
file is named as OpenLineage names any local file: namespace `file` and its absolute path.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import quote, urlsplit, urlunsplit

from ntrk.config import Config
from ntrk.record import Script
from ntrk.repo import Repo

NAMESPACE_VARIABLE = "OPENLINEAGE_NAMESPACE"
LOCAL_FILES = "file"
# Run ids that are not UUIDs (records are only checked for safe characters) map to a UUID
# derived from this namespace, the same on every machine.
_RUN_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/tim-hudelmaier/ntrk")
_NETWORK_SCHEMES = frozenset({"http", "https", "ssh", "git", "git+ssh", "ssh+git", "ftp", "ftps"})
# `user@host:path`, git's scp-like syntax (no scheme, and no slash before the colon).
_SCP_LIKE = re.compile(r"(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>.*)\Z", re.S)
_MAX_JOB_NAME = 200


@dataclass(frozen=True)
class Names:
    """How one repository names its jobs, datasets and source files."""

    job_namespace: str
    repository: str  # the repository URL, or the work tree's file:// URL without a remote
    repo_url: str  # the remote's URL as configured, without credentials (for source links)
    root: Path
    has_remote: bool

    def dataset(self, path: str) -> tuple[str, str]:
        """The (namespace, name) of the file at repository path `path`."""
        if not self.has_remote:
            return LOCAL_FILES, (self.root / path).as_posix()
        return self.repository, path

    def job(self, script: Script | None, command: Sequence[str]) -> str:
        """The job a run belongs to: its script's repository path, else its command."""
        if script is not None and (script.blob is not None or script.md5 is not None):
            return script.path
        text = shlex.join(command)
        if len(text) <= _MAX_JOB_NAME:
            return text
        digest = hashlib.md5(text.encode("utf-8", "surrogatepass"), usedforsecurity=False)
        return f"{text[: _MAX_JOB_NAME - 9]}…{digest.hexdigest()[:8]}"

    def source_url(self, path: str, commit: str) -> str:
        """A URL of the file at repository path `path` as it was at `commit`."""
        quoted = quote_path(path, safe="/")
        if not self.has_remote:
            return f"{self.repository}/{quoted}"
        if urlsplit(self.repository).hostname == "bitbucket.org":
            return f"{self.repository}/src/{commit}/{quoted}"
        # GitHub's form; GitLab, Gitea and Forgejo answer it too.
        return f"{self.repository}/blob/{commit}/{quoted}"


def names(repo: Repo, settings: Config) -> Names:
    """The names of `repo`'s jobs and files (see the module docstring)."""
    remote = _remote_url(repo)
    if remote is None:
        repository = repo.root.as_uri()
        repo_url = repository
    else:
        repository = repository_url(remote, repo.root)
        repo_url = without_credentials(remote)
    job_namespace = (
        os.environ.get(NAMESPACE_VARIABLE, "").strip()
        or (settings.openlineage_namespace or "").strip()
        or repository
    )
    return Names(job_namespace, repository, repo_url, repo.root, remote is not None)


def repository_url(remote: str, root: Path) -> str:
    """A remote's URL in the form every clone shares (see the module docstring)."""
    parsed = urlsplit(remote)
    scheme = parsed.scheme.lower()
    if scheme in _NETWORK_SCHEMES and parsed.hostname:
        host = _host(parsed.hostname)
        port = ""
        if scheme in ("http", "https"):
            try:
                if parsed.port and parsed.port not in (80, 443):
                    port = f":{parsed.port}"
            except ValueError:  # a port that is not a number: leave it out
                port = ""
        return f"https://{host}{port}/{_repository_path(parsed.path)}"
    if scheme == "file":
        return Path(_strip_git(parsed.path) or "/").as_uri()
    scp = _SCP_LIKE.match(remote)
    if scp and len(scp.group("host")) > 1:  # (a one-letter "host" is a drive, `C:\repo`)
        return f"https://{_host(scp.group('host'))}/{_repository_path(scp.group('path'))}"
    local = Path(remote) if os.path.isabs(remote) else (root / remote)
    return Path(_strip_git(os.path.normpath(local))).as_uri()


def without_credentials(remote: str) -> str:
    """`remote` without a password, or, over http(s), without the user (often a token)."""
    parsed = urlsplit(remote)
    if not parsed.scheme or "@" not in parsed.netloc:
        return remote
    userinfo, _, hostport = parsed.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    keep_user = parsed.scheme.lower() not in ("http", "https") and user
    netloc = f"{user}@{hostport}" if keep_user else hostport
    return urlunsplit(parsed._replace(netloc=netloc))


def run_uuid(record_id: str) -> str:
    """The UUID that names a record's run (its id, when the id is a UUID, as ntrk's are)."""
    try:
        return str(uuid.UUID(record_id))
    except ValueError:
        return str(uuid.uuid5(_RUN_ID_NAMESPACE, record_id))


def _remote_url(repo: Repo) -> str | None:
    remotes = {remote.name: remote.url for remote in repo.git.remotes if remote.url}
    name = repo.default_remote()
    if name in remotes:
        return str(remotes[name])
    return str(next(iter(remotes.values()))) if len(remotes) == 1 else None


def _host(host: str) -> str:
    host = host.lower()
    return f"[{host}]" if ":" in host else host


def _repository_path(path: str) -> str:
    return quote_path(_strip_git(path.strip("/")), safe="/~")


def quote_path(text: str, safe: str) -> str:
    """`text` percent-encoded for a URL, its bytes as the file system has them: a name that
    is not UTF-8 (held as surrogate escapes) gives `%FE`, where quoting the text would raise."""
    return quote(text.encode("utf-8", "surrogateescape"), safe=safe)


def _strip_git(path: str) -> str:
    """`org/repo` for `org/repo.git`, and a work tree's path for its `.git` directory."""
    path = path.rstrip("/")
    if PurePosixPath(path).name == ".git":
        return str(PurePosixPath(path).parent)
    return path.removesuffix(".git")
