"""Text that is safe to show and to parse: visible control characters, strict JSON.

Strings in records may come from other people's clones. Shown raw, a carriage return or an
ANSI escape sequence can make a terminal display one command while another one runs, and a
bidi override can reorder what is read. So every such string reaches a terminal through
`visible` (or `shell_join` for a command line), and every JSON ntrk writes goes through
`json_dumps`, which escapes the same characters. A leaf module.
"""

from __future__ import annotations

import json
import math
import re
import shlex
from collections.abc import Iterable

# C0 and C1 controls, DEL, the line and paragraph separators, the bidi controls (LRM, RLM,
# ALM, the embeddings and overrides U+202A-U+202E, the isolates U+2066-U+2069), and lone
# surrogates (bytes of a file name that is not UTF-8, decoded with surrogate escapes).
_INVISIBLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
# Of those, what json.dumps(ensure_ascii=False) leaves raw: all but C0.
_JSON_RAW = re.compile(
    "[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def visible(text: str) -> str:
    """`text` with every invisible or reordering character shown as an escape (`\\x1b`,
    `\\r`, `\\u202e`); a byte that was not UTF-8 shows as `\\xNN`."""
    return _INVISIBLE.sub(_escape, text) if _INVISIBLE.search(text) else text


def shell_join(argv: Iterable[str]) -> str:
    """A shell command line that means exactly `argv`, with nothing invisible in it.

    Like `shlex.join`, but an argument holding characters `visible` would escape is written
    in bash's `$'…'` form, where those escapes mean the characters themselves.
    """
    return " ".join(_shell_word(arg) for arg in argv)


def json_dumps(data: object, indent: int | None = None, sort_keys: bool = True) -> str:
    """Strict JSON (no NaN or Infinity, UTF-8, keys sorted unless asked not to) with nothing
    invisible in it.

    JSON escapes C0 controls itself; the other characters `visible` escapes are written as
    `\\uXXXX` too. They can only occur inside strings, so the text stays valid and means the
    same data. That also keeps U+0085, U+2028 and U+2029, at which `str.splitlines()` breaks
    lines, out of every line ntrk writes.
    """
    text = json.dumps(data, sort_keys=sort_keys, ensure_ascii=False, allow_nan=False, indent=indent)
    return _JSON_RAW.sub(_unicode_escape, text) if _JSON_RAW.search(text) else text


def json_loads(text: str | bytes) -> object:
    """Decode strict JSON: NaN, Infinity, numbers a float cannot hold and duplicate keys are
    refused.

    Raises ValueError (also for integers longer than Python's int-string limit, which `json`
    reports as a plain ValueError, not a JSONDecodeError) or RecursionError (nested too deep).
    Duplicate keys are refused because readers disagree on them (SQLite keeps the first,
    Python's `json` the last): one line must mean one record to every reader.
    """
    return json.loads(
        text,
        parse_constant=_refuse_constant,
        parse_float=_finite_float,
        object_pairs_hook=_unique_keys,
    )


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if char in _NAMED:
        return _NAMED[char]
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the original byte
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _shell_word(arg: str) -> str:
    if not _INVISIBLE.search(arg):
        return shlex.quote(arg)
    body = "".join(_shell_char(char) for char in arg)
    return f"$'{body}'"


def _shell_char(char: str) -> str:
    """One character inside bash's `$'…'`: `\\xNN` means a byte there, so a character past
    ASCII is written `\\uNNNN`, and a byte that was not UTF-8 (a surrogate escape) `\\xNN`."""
    code = ord(char)
    if char == "\\":
        return "\\\\"
    if char == "'":
        return "\\'"
    if not _INVISIBLE.match(char):
        return char
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"
    if char in _NAMED:
        return _NAMED[char]
    return f"\\x{code:02x}" if code < 0x80 else f"\\u{code:04x}"


def _unicode_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"the key {key!r} appears twice")
            seen.add(key)
    return result


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} is out of range")
    return value
