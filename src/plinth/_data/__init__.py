"""Data engine: datastores' files, transfers, and reading datasets.

* ``files``       the ``DatastoreFiles`` protocol: one datastore's files by relative name.
* ``filesystems`` a ``DatastoreRecord`` (+ its key-vault credentials) -> ``DatastoreFiles``
                  over fsspec (local folders, s3fs, adlfs, smb) or a server's artifact API.
* ``transfer``    parallel upload/download with a progress bar and skip-existing.
* ``tabular``     reading resolved files into a pyarrow Table (delimited, parquet, JSON
                  lines, SQL) and applying a definition's transformations.
* ``expressions`` column expressions for ``TabularDataset.filter`` (JSON-serialisable).
* ``profile``     per-column statistics of a table.
"""
