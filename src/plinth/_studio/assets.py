"""Models, datasets, datastores, environments, compute, pipelines, endpoints."""

from fastapi import APIRouter

router = APIRouter()
