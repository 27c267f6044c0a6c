"""Datasets, data references and datastores' classes (azureml.data's shape)."""

from plinth.data.abstract_dataset import AbstractDataset
from plinth.data.data_reference import DataReference
from plinth.data.datapath import DataPath, DataPathComputeBinding
from plinth.data.dataset_consumption_config import DatasetConsumptionConfig
from plinth.data.dataset_factory import DataType
from plinth.data.file_dataset import FileDataset
from plinth.data.output_dataset_config import OutputFileDatasetConfig, OutputTabularDatasetConfig
from plinth.data.tabular_dataset import TabularDataset

__all__ = [
    "OutputFileDatasetConfig",
    "OutputTabularDatasetConfig",
    "AbstractDataset",
    "DataPath",
    "DataPathComputeBinding",
    "DataReference",
    "DataType",
    "DatasetConsumptionConfig",
    "FileDataset",
    "TabularDataset",
]
