"""The Celery app of the workers: ``celery --app etl_lib.orchestration.celery_app worker`` (what
``etl dagster worker`` runs). dagster-celery's step task on the broker and with the Celery settings of
the runs (``execution.celery_app_args``), both from the project's settings, so a worker and a run that
share the environment share the broker.
"""

from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_task

from ..config.settings import get_settings
from .execution import celery_app_args

app = make_app(celery_app_args(get_settings()))
execute_plan = create_task(app)
