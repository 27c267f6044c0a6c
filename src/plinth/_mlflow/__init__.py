"""MLflow compatibility: Plinth as a tracking backend for MLflow clients, with no server.

``mlflow.set_tracking_uri(ws.get_mlflow_tracking_uri())`` points MLflow at a ``plinth:`` URI;
MLflow finds this package through the ``mlflow.tracking_store`` and
``mlflow.artifact_repository`` entry points (both named ``plinth``) and every call then lands
in the workspace's Plinth experiments, runs, metrics and files.

``uri``             the ``plinth:`` URI: format it for a workspace, resolve it to a location
``mapping``         Plinth records <-> MLflow's REST JSON shapes (pure functions, no MLflow)
``entities``        those JSON shapes -> ``mlflow.entities`` objects
``errors``          Plinth errors -> ``MlflowException`` with MLflow's error codes
``experiment_tags`` MLflow experiment tags (kept in the artifact root; the Store has none)
``liveness``        heartbeats for runs created through MLflow, while this process lives
``store``           the ``AbstractStore`` (tracking) implementation
``artifacts``       the ``ArtifactRepository`` implementation

Only ``uri`` and ``mapping`` are imported without MLflow installed.
"""
