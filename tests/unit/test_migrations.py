"""The migrations' head: the revision the code names is Alembic's. (Migrations on real PostgreSQL:
tests/integration/test_migrations.py.)"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ETL = str(Path(sys.executable).with_name("etl"))


@pytest.mark.parametrize("database", ["source", "target"])
def test_the_head_constant_is_alembics_head(database):
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from etl_lib.storage.migrations import HEAD, HERE

    config = Config()
    config.set_main_option("script_location", str(HERE / database))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD[database]
