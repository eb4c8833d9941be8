import json
import os
import subprocess
import sys
from urllib.parse import urlparse

import pytest
from django.db import connection

from tests.support.processes import ROOT, child_env, stop_process_group
from tests.support.services import child_database_url, require_postgres


# Five short Django processes; seconds on a quiet machine, minutes on a saturated one.
BENCH_SECONDS = 240


@pytest.mark.integration
@pytest.mark.django_db
@pytest.mark.timeout(BENCH_SECONDS + 30)
def test_export_benchmark_measures_each_size_and_drops_its_database(tmp_path):
    require_postgres()
    server = urlparse(child_database_url())._replace(path="/postgres").geturl()
    database = f"bench_export_smoke_{os.getpid()}"
    output = tmp_path / "export.json"
    command = [sys.executable, "bench/export_bench.py", "--rows", "50", "120", "--database", database,
               "--output", output]

    bench = subprocess.Popen(
        command, cwd=ROOT, env=child_env(BENCH_DATABASE_URL=server), stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        _, stderr = bench.communicate(timeout=BENCH_SECONDS)
    finally:
        # SIGTERM: the benchmark drops its database on the way out.
        stop_process_group(bench, grace_seconds=30)
    assert bench.returncode == 0, stderr.decode()[-2000:]

    results = json.loads(output.read_text())["results"]
    assert [result["rows"] for result in results] == [50, 120]
    assert all(result["rows_per_second"] > 0 and result["peak_rss_mib"] > 0 for result in results)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_database WHERE datname = %s", [database])
        assert cursor.fetchone() == (0,)
