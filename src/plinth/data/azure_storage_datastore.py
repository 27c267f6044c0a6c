"""azureml's datastore classes, where azureml keeps them."""

from plinth.core.datastore import (
    AzureBlobDatastore,
    AzureDataLakeGen2Datastore,
    AzureFileDatastore,
    AzurePostgreSqlDatastore,
    LocalDatastore,
    S3Datastore,
)

__all__ = [
    "AzureBlobDatastore",
    "AzureDataLakeGen2Datastore",
    "AzureFileDatastore",
    "AzurePostgreSqlDatastore",
    "LocalDatastore",
    "S3Datastore",
]
