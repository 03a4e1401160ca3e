"""The record type: what it accepts, what it refuses, and exact round trips."""

from __future__ import annotations

import json

import pytest
from history import v1_record
from hypothesis import given
from hypothesis import strategies as st

from ntrk import record
from ntrk.errors import InvalidRecord


def valid() -> dict[str, object]:
    return v1_record(1, [("in.csv", b"i")], [("out dir/ü.csv", b"o")])


def test_round_trip_is_exact_and_keeps_unknown_fields() -> None:
    data = {**valid(), "future_field": {"nested": [1, 2.5, None]}, "duration": 1.25}
    rec = record.parse(data)
    assert rec.to_dict() == data
    assert rec.line == json.dumps(data, sort_keys=True, ensure_ascii=False)
    assert record.parse_json(rec.line) == rec


def test_typed_fields() -> None:
    rec = record.parse(valid())
    assert rec.inputs[0].path == "in.csv" and rec.inputs[0].size == 1
    assert rec.outputs[0].path == "out dir/ü.csv"
    assert rec.commit == "a" * 40 and rec.branch == "main"
    assert rec.script is not None and rec.script.path == "step.py"


def mutate(path: str, value: object) -> dict[str, object]:
    data = json.loads(json.dumps(valid()))
    target = data
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target[key]
    if value is KeyError:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("v", 2),
        ("v", KeyError),
        ("v", True),
        ("id", KeyError),
        ("id", "has space"),
        ("id", "x" * 200),
        ("git", "main"),
        ("git.commit", "abc"),
        ("cwd", "../up"),
        ("cwd", "/abs"),
        ("command", []),
        ("command", "python x.py"),
        ("command", ["python", 3]),
        ("inputs", {"path": "x"}),
        ("inputs.0.path", "../../etc/passwd"),
        ("inputs.0.path", "/dev/zero"),
        ("inputs.0.path", "a//b"),
        ("inputs.0.path", "a/./b"),
        ("inputs.0.path", "nul\0byte"),
        ("inputs.0.md5", 7),
        ("inputs.0.md5", "ABCDEF" * 5 + "AB"),
        ("outputs.0.size", "12"),
        ("outputs.0.size", -1),
        ("outputs.0.size", True),
        ("outputs.0.files", 1.5),
        ("script", "step.py"),
        ("script.blob", "zz"),
        ("script.md5", 5),
        ("start", 5),
    ],
)
def test_rejects_untrustworthy_fields(path: str, value: object) -> None:
    with pytest.raises(InvalidRecord):
        record.parse(mutate(path, value))


def test_newer_schema_says_so() -> None:
    with pytest.raises(InvalidRecord, match="newer"):
        record.parse(mutate("v", 2))


@pytest.mark.parametrize(
    "text",
    [b"", b"[]", b"null", b"{", b"\xff\xfe", b"[" * 100_000, b'{"v": 1, "id": "\\ud800"}'],
)
def test_rejects_malformed_json(text: bytes) -> None:
    with pytest.raises(InvalidRecord):
        record.parse_json(text)


@pytest.mark.parametrize("text", ["\ud800", "\udbff", "\udc7f", "\\\ud800"])
def test_rejects_lone_surrogates_that_are_no_byte_of_a_name(text: str) -> None:
    data = valid()
    data["command"] = ["python", text]
    with pytest.raises(InvalidRecord):
        record.parse(data)


def test_a_name_that_is_not_utf8_round_trips_as_its_bytes() -> None:
    name = b"caf\xe9-\xff.csv".decode("utf-8", "surrogateescape")  # how Python reads it
    data = valid()
    data["command"] = ["python", "step.py", "-o", name]
    rec = record.parse(data)
    assert "\\udce9" in rec.line and name not in rec.line  # escaped: the line is plain UTF-8
    again = record.parse_json(rec.line.encode("utf-8"))
    assert again.command[-1].encode("utf-8", "surrogateescape") == b"caf\xe9-\xff.csv"


def test_a_literal_backslash_u_is_not_taken_for_a_surrogate() -> None:
    data = valid()
    data["command"] = ["printf", "\\ud800"]
    assert record.parse(data).command[-1] == "\\ud800"


@given(st.binary(max_size=400))
def test_any_bytes_are_a_record_or_a_clean_rejection(raw: bytes) -> None:
    try:
        rec = record.parse_json(raw)
    except InvalidRecord:
        return
    assert record.parse_json(rec.line) == rec


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)


@given(st.dictionaries(st.sampled_from(list(valid())), json_values, max_size=9))
def test_any_json_object_is_a_record_or_a_clean_rejection(overrides: dict[str, object]) -> None:
    data = {**valid(), **overrides}
    try:
        rec = record.parse(data)
    except InvalidRecord:
        return
    assert rec.to_dict() == data


def test_create_builds_a_parseable_record() -> None:
    rec = record.create(
        commit="c" * 40,
        branch="HEAD",
        cwd=".",
        script=None,
        command=["true"],
        inputs=[],
        outputs=[record.FileRef("o", "d41d8cd98f00b204e9800998ecf8427e", 0)],
        start=record.now_precise(),
        duration=0.5,
    )
    assert record.parse_json(rec.line) == rec
    assert rec.to_dict()["exit"] == 0 and rec.to_dict()["duration"] == 0.5


DAY_ONE, DAY_TWO, LAST = "2026-01-01T00:00:00", "2026-01-02T00:00:00", "9999-12-31T23:59:59"


@pytest.mark.parametrize(
    ("newest_known", "start", "order"),
    [
        (f"{DAY_ONE}.000000000Z", f"{DAY_TWO}.000000Z", None),  # this run started later
        (f"{DAY_TWO}.000000000Z", f"{DAY_ONE}.000000Z", f"{DAY_TWO}.000000001Z"),
        (f"{DAY_ONE}.000001000Z", f"{DAY_ONE}.000001Z", f"{DAY_ONE}.000001001Z"),
        (f"{LAST}.999999999Z", f"{DAY_ONE}.000000Z", f"{LAST}.999999999Z"),  # no later one
        (f"{LAST}Z", f"{DAY_ONE}.000000Z", None),  # not the index's form
        ("garbage", f"{DAY_ONE}.000000Z", None),
        (None, f"{DAY_ONE}.000000Z", None),
    ],
)
def test_order_is_a_nanosecond_after_the_newest_known_time(
    newest_known: str | None, start: str, order: str | None
) -> None:
    made = record.create(
        commit="a" * 40, branch="main", cwd=".", script=None, command=["true"], inputs=[],
        outputs=[record.FileRef("o", "d41d8cd98f00b204e9800998ecf8427e", 0)], start=start,
        duration=0.0, newest_known=newest_known,
    )  # fmt: skip
    assert made.to_dict().get("order") == order
