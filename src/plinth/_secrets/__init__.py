"""Workspace secrets: name rules, the key file, and encryption at rest.

A secret's value is encrypted before it reaches the metadata database, with a key that lives
in a file outside it. Only the component that opens the database (``SqlStore``, in the SDK
for an embedded or PostgreSQL workspace, or in the workspace server) holds the key; clients
of a server send and receive plaintext over the API and never see it.
"""

from plinth._secrets.box import (
    ENV_SECRET_KEY_FILE,
    KEY_FILE_NAME,
    MAX_SECRET_BYTES,
    SecretBox,
    box_for,
    check_secret_name,
    check_secret_value,
    default_key_file,
)

__all__ = [
    "ENV_SECRET_KEY_FILE",
    "KEY_FILE_NAME",
    "MAX_SECRET_BYTES",
    "SecretBox",
    "box_for",
    "check_secret_name",
    "check_secret_value",
    "default_key_file",
]
