"""Experiments, runs, a run's page, comparing runs."""

from fastapi import APIRouter

router = APIRouter()
