"""The Celery entry point: ``celery -A celery_worker.celery worker|beat``."""

from project import create_app

app = create_app()
celery = app.extensions["celery"]
