"""Prepare the diabetes data for training: drop incomplete rows and scale the features.

The first step of the quickstart's pipeline: reads the ``raw_data`` dataset input and writes
``prepped.csv`` into the folder given as ``--prepped-data`` (an OutputFileDatasetConfig),
which the training step reads as its ``training_data`` dataset.
"""

import argparse
import os

from sklearn.preprocessing import MinMaxScaler

from plinth.core import Run

FEATURES = ["Pregnancies", "PlasmaGlucose", "DiastolicBloodPressure", "TricepsThickness",
            "SerumInsulin", "BMI", "DiabetesPedigree", "Age"]

parser = argparse.ArgumentParser()
parser.add_argument("--prepped-data", dest="prepped_data", required=True)
args = parser.parse_args()

run = Run.get_context()
diabetes = run.input_datasets["raw_data"].to_pandas_dataframe()
rows = len(diabetes)
diabetes = diabetes.dropna()
diabetes[FEATURES] = MinMaxScaler().fit_transform(diabetes[FEATURES])
run.log("raw_rows", rows)
run.log("processed_rows", len(diabetes))

os.makedirs(args.prepped_data, exist_ok=True)
diabetes.to_csv(os.path.join(args.prepped_data, "prepped.csv"), index=False)
print(f"Prepared {len(diabetes)} of {rows} rows.")
