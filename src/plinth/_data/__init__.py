"""Data engine: datastores' files, transfers, and reading datasets.

* ``files``          the ``DatastoreFiles`` protocol: one datastore's files by relative name.
* ``filesystems``    a ``DatastoreRecord`` (+ its key-vault credentials) or a URL ->
                     ``DatastoreFiles`` over fsspec (local folders, s3fs, adlfs, smb) or a
                     server's artifact API.
* ``fsspec_files``   those ``DatastoreFiles`` (``FsspecFiles``, ``ArtifactFiles``) and glob
                     matching.
* ``storage_errors`` storage libraries' exceptions -> ``DataAccessError`` reasons; redaction.
* ``transfer``       parallel upload/download with a progress bar and skip-existing.
* ``tabular``        reading resolved files into a pyarrow Table (delimited, parquet, JSON
                     lines), and writing a table as files.
* ``columns``        column types (``set_column_types``) and converting columns to them.
* ``transforms``     applying a definition's transformations to a table or a list of files.
* ``sql``            reading a SQL query's rows into a pyarrow Table.
* ``expressions``    column expressions for ``TabularDataset.filter`` (JSON-serialisable).
* ``profile``        per-column statistics of a table.
"""
