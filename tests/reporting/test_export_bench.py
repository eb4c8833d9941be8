import json
import os
import subprocess
import sys
from urllib.parse import urlparse

import pytest
from django.db import connection

from tests.support.processes import ROOT, child_env
from tests.support.services import child_database_url, require_postgres


@pytest.mark.integration
@pytest.mark.django_db
def test_export_benchmark_measures_each_size_and_drops_its_database(tmp_path):
    require_postgres()
    server = urlparse(child_database_url())._replace(path="/postgres").geturl()
    database = f"bench_export_smoke_{os.getpid()}"
    output = tmp_path / "export.json"

    subprocess.run(
        [sys.executable, "bench/export_bench.py", "--rows", "50", "120", "--database", database, "--output", output],
        cwd=ROOT, env=child_env(BENCH_DATABASE_URL=server), timeout=150, check=True, capture_output=True,
    )

    results = json.loads(output.read_text())["results"]
    assert [result["rows"] for result in results] == [50, 120]
    assert all(result["rows_per_second"] > 0 and result["peak_rss_mib"] > 0 for result in results)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_database WHERE datname = %s", [database])
        assert cursor.fetchone() == (0,)
