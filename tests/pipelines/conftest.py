"""Scripts and a registered dataset for pipeline tests: the course's prepare -> train flow."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tests.conftest import write_script

DATA = Path(__file__).resolve().parents[2] / "examples" / "data" / "diabetes.csv"

PREP = """
    import argparse, os
    from plinth.core import Run

    parser = argparse.ArgumentParser()
    parser.add_argument("--out")
    parser.add_argument("--rows", type=int, default=100)
    args = parser.parse_args()
    run = Run.get_context()
    df = run.input_datasets["raw_data"].to_pandas_dataframe()
    os.makedirs(args.out, exist_ok=True)
    df.head(args.rows).to_csv(os.path.join(args.out, "prepped.csv"), index=False)
    run.log("rows", args.rows)
"""

TRAIN = """
    import argparse, glob, os
    import pandas as pd
    from plinth.core import Run

    parser = argparse.ArgumentParser()
    parser.add_argument("--folder")
    parser.add_argument("--reg", type=float, default=0.01)
    args = parser.parse_args()
    df = pd.concat(pd.read_csv(f) for f in glob.glob(os.path.join(args.folder, "*.csv")))
    run = Run.get_context()
    run.log("rows", len(df))
    run.log("reg", args.reg)
    os.makedirs("outputs", exist_ok=True)
    with open("outputs/model.txt", "w") as f:
        f.write(f"{len(df)} rows, reg {args.reg}")
"""


@pytest.fixture
def scripts(tmp_path):
    """Two source folders (so a change to one script leaves the other step's snapshot be)."""
    prep, train = tmp_path / "prep", tmp_path / "train"
    prep.mkdir()
    train.mkdir()
    write_script(prep, "prep.py", PREP)
    write_script(train, "train.py", TRAIN)
    return prep, train


@pytest.fixture
def raw_dataset(ws, tmp_path):
    from plinth.core import Dataset

    folder = tmp_path / "raw"
    folder.mkdir()
    shutil.copy(DATA, folder / "diabetes.csv")
    datastore = ws.get_default_datastore()
    datastore.upload(str(folder), target_path="diabetes", overwrite=True, show_progress=False)
    return Dataset.Tabular.from_delimited_files((datastore, "diabetes/*.csv")).register(
        ws, "raw_dataset")
