"""A miniature of DVC's get-started pipeline (example-get-started), for tests.

Three steps whose files are positional, as in DVC's repository: `src/prepare.py data/data.xml`
writes `data/prepared/` (a directory named inside the script, not on the command line),
`src/featurization.py data/prepared data/features`, `src/train.py data/features model.pkl`. Each
reads its section of `params.yaml` without naming it. Standard library only (a tiny reader
stands in for PyYAML), so the tests need nothing installed.
"""

from __future__ import annotations

from pathlib import Path

PARAMS = """\
prepare:
  split: 0.25
  seed: 20170428
featurize:
  max_features: 20
  ngrams: 1
train:
  seed: 20170428
  n_est: 5
"""

LOAD_PARAMS = '''
def load_params(section):
    """params.yaml's `section`, as `yaml.safe_load(open("params.yaml"))[section]` would."""
    params, current = {}, None
    with open("params.yaml") as fd:
        for line in fd:
            if line.strip() and not line.startswith(" "):
                current = line.strip().rstrip(":")
            elif current == section and ":" in line:
                key, value = line.strip().split(":", 1)
                params[key] = value.strip()
    return params
'''

PREPARE = f"""import os
import random
import sys
{LOAD_PARAMS}
params = load_params("prepare")
split, seed = float(params["split"]), int(params["seed"])
input_file = sys.argv[1]
output_train = os.path.join("data", "prepared", "train.tsv")
output_test = os.path.join("data", "prepared", "test.tsv")
random.seed(seed)
os.makedirs(os.path.join("data", "prepared"), exist_ok=True)
with open(input_file) as fd_in, open(output_train, "w") as fd_train, open(
    output_test, "w"
) as fd_test:
    for line in fd_in:
        text = line.split('Body="', 1)[-1].split('"', 1)[0]
        (fd_test if random.random() < split else fd_train).write(text + "\\n")
"""

FEATURIZATION = f"""import collections
import os
import pickle
import sys
{LOAD_PARAMS}
params = load_params("featurize")
max_features = int(params["max_features"])
in_path, out_path = sys.argv[1], sys.argv[2]
os.makedirs(out_path, exist_ok=True)
for name in ("train", "test"):
    with open(os.path.join(in_path, name + ".tsv")) as fd:
        words = collections.Counter(word for line in fd for word in line.split())
    with open(os.path.join(out_path, name + ".pkl"), "wb") as fd:
        pickle.dump(sorted(words.most_common(max_features)), fd)
"""

TRAIN = f"""import pickle
import random
import sys
{LOAD_PARAMS}
params = load_params("train")
random.seed(int(params["seed"]))
input_dir, output = sys.argv[1], sys.argv[2]
with open(input_dir + "/train.pkl", "rb") as fd:
    features = pickle.load(fd)
model = {{"trees": int(params["n_est"]), "weights": [random.random() for _ in features]}}
with open(output, "wb") as fd:
    pickle.dump(model, fd)
"""

DATA = "".join(
    f'<row Id="{n}" Body="question {n} about {topic} and python" />\n'
    for n, topic in enumerate(["git", "data", "lineage", "models", "tests", "pipelines"] * 4)
)

STEPS = [
    ["python", "src/prepare.py", "data/data.xml"],
    ["python", "src/featurization.py", "data/prepared", "data/features"],
    ["python", "src/train.py", "data/features", "model.pkl"],
]
# What a user declares for each step, with `nt track -i … -o … --`.
DECLARED = [
    ["-i", "data/data.xml", "-i", "params.yaml", "-o", "data/prepared"],
    ["-i", "data/prepared", "-i", "params.yaml", "-o", "data/features"],
    ["-i", "data/features", "-i", "params.yaml", "-o", "model.pkl"],
]


def write(root: Path) -> None:
    """Put the pipeline's code, parameters and raw data into the work tree at `root`."""
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "data").mkdir(exist_ok=True)
    (root / "src" / "prepare.py").write_text(PREPARE, encoding="utf-8")
    (root / "src" / "featurization.py").write_text(FEATURIZATION, encoding="utf-8")
    (root / "src" / "train.py").write_text(TRAIN, encoding="utf-8")
    (root / "params.yaml").write_text(PARAMS, encoding="utf-8")
    (root / "data" / "data.xml").write_text(DATA, encoding="utf-8")
