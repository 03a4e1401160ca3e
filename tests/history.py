"""Random histories in ntrk 0.1.0's format, written by hand from schema v1 (no ntrk code)."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

COMMITS = ["a" * 40, "b1" * 20, "c2" * 20]


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def v1_record(
    index: int,
    inputs: list[tuple[str, bytes]],
    outputs: list[tuple[str, bytes]],
    script: str | None = "step.py",
    commit: str = COMMITS[0],
) -> dict[str, object]:
    """A record as 0.1.0 wrote it."""
    return {
        "v": 1,
        "id": f"{index:032x}",
        "ts": f"2026-01-01T00:{index // 60 % 60:02d}:{index % 60:02d}Z",
        "git": {"commit": commit, "branch": "main"},
        "cwd": ".",
        "script": None if script is None else {"path": script, "blob": None, "md5": None},
        "command": [
            "python",
            script or "x",
            "-i",
            *[p for p, _ in inputs],
            "-o",
            *[p for p, _ in outputs],
        ],
        "inputs": [{"path": p, "md5": md5(d), "size": len(d)} for p, d in inputs],
        "outputs": [{"path": p, "md5": md5(d), "size": len(d)} for p, d in outputs],
    }


def log_line(rec: dict[str, object]) -> str:
    return json.dumps(rec, sort_keys=True, ensure_ascii=False) + "\n"


@dataclass
class RandomHistory:
    """A random pipeline history: records, and the files as they are on disk at the end."""

    seed: int
    records: list[dict[str, object]] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    sidecars: dict[str, dict[str, object]] = field(default_factory=dict)

    def generate(self, steps: int = 40) -> RandomHistory:
        rng = random.Random(self.seed)
        names = [f"f{i}.csv" for i in range(12)] + ["dir/a b.csv", "dir/ü.csv"]
        # Few contents, so the same path is often rewritten with bytes it held before. Bytes are
        # never shared between paths except by a rename: there ntrk deliberately differs from
        # 0.1.0, which linked an input to any earlier run that wrote the same bytes anywhere
        # (tests/test_trust.py covers that rule).
        alphabet = [b"x", b"y", b"z", b"xy", b"same"]
        for name in names[:3]:
            self.files[name] = name.encode() + b":" + rng.choice(alphabet)
        for index in range(steps):
            present = sorted(self.files)
            inputs = [(p, self.files[p]) for p in rng.sample(present, rng.randint(0, 2))]
            outputs = []
            for name in rng.sample(names, rng.randint(1, 2)):
                data = name.encode() + b":" + rng.choice(alphabet)
                data += b"" if rng.random() < 0.6 else b"!"
                self.files[name] = data
                outputs.append((name, data))
            script = None if rng.random() < 0.1 else rng.choice(["step.py", "s2.py"])
            rec = v1_record(index, inputs, outputs, script, rng.choice(COMMITS))
            self.records.append(rec)
            if rng.random() < 0.2:
                path, _ = rng.choice(outputs)
                self.sidecars[path] = {**rec, "sidecar_for": path}
        for name in sorted(self.files):
            roll = rng.random()
            if roll < 0.15:
                del self.files[name]
            elif roll < 0.3:
                self.files[name] = b"edited"
            elif roll < 0.4:
                self.files[f"renamed-{name.replace('/', '-')}"] = self.files.pop(name)
        return self

    def write(self, root: Path) -> None:
        (root / ".ntrk").mkdir(parents=True, exist_ok=True)
        (root / ".ntrk" / "runs.jsonl").write_text(
            "".join(log_line(r) for r in self.records), encoding="utf-8"
        )
        for name, data in self.files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(data)
        for name, data in self.sidecars.items():
            path = root / name
            if path.exists():
                side = path.with_name(f".{path.name}.ntrk")
                side.write_text(json.dumps(data, sort_keys=True, indent=2), encoding="utf-8")

    def targets(self) -> list[str]:
        recorded = {o["path"] for r in self.records for o in r["outputs"]}  # type: ignore[index]
        return sorted(recorded | set(self.files))
