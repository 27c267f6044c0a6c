"""Train a logistic regression on the diabetes data set and log its quality.

Runs as a Plinth script run (``experiment.submit``), reading the dataset passed as the
``training_data`` input, or on its own with ``python train_diabetes.py`` (reading
``--data``), in which case the offline run prints what it would log.
"""

import argparse
import os

import joblib
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import roc_auc_score, roc_curve  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from plinth.core import Run  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--reg_rate", type=float, dest="reg", default=0.01)
parser.add_argument("--data", default="diabetes.csv",
                    help="A CSV file, read when the run has no 'training_data' dataset input.")
parser.add_argument("--input-data", dest="input_data", help="The training dataset's id.")
args = parser.parse_args()

run = Run.get_context()

print("Loading data...")
if "training_data" in run.input_datasets:
    diabetes = run.input_datasets["training_data"].to_pandas_dataframe()
else:
    diabetes = pd.read_csv(args.data)
print(f"{len(diabetes)} rows")
features = ["Pregnancies", "PlasmaGlucose", "DiastolicBloodPressure", "TricepsThickness",
            "SerumInsulin", "BMI", "DiabetesPedigree", "Age"]
X, y = diabetes[features].values, diabetes["Diabetic"].values
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.30, random_state=0)

print("Training a logistic regression model with regularization rate of", args.reg)
run.log("Regularization Rate", np.float64(args.reg))
model = LogisticRegression(C=1 / args.reg, solver="liblinear").fit(X_train, y_train)

y_hat = model.predict(X_test)
accuracy = np.average(y_hat == y_test)
print("Accuracy:", accuracy)
run.log("Accuracy", np.float64(accuracy))

y_scores = model.predict_proba(X_test)
auc = roc_auc_score(y_test, y_scores[:, 1])
print("AUC:", auc)
run.log("AUC", np.float64(auc))

fpr, tpr, _ = roc_curve(y_test, y_scores[:, 1])
fig = plt.figure(figsize=(6, 4))
plt.plot([0, 1], [0, 1], "k--")
plt.plot(fpr, tpr)
plt.xlabel("False Positive Rate")
plt.ylabel("True Positive Rate")
plt.title("ROC Curve")
run.log_image(name="ROC", plot=fig)
plt.close(fig)

os.makedirs("outputs", exist_ok=True)
joblib.dump(value=model, filename="outputs/model.pkl")

run.complete()
