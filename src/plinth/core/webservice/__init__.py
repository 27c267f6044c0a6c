"""Deployed web services (azureml's ``azureml.core.webservice``)."""

from plinth.core.webservice.aci import AciWebservice
from plinth.core.webservice.aks import AksWebservice
from plinth.core.webservice.local import LocalWebservice
from plinth.core.webservice.webservice import Webservice

__all__ = ["AciWebservice", "AksWebservice", "LocalWebservice", "Webservice"]
