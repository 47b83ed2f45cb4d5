"""The storage benchmark runs, reports consistent figures, and cleans up after itself."""

from __future__ import annotations

import asyncpg
import pytest

from api.storage.writer import Mode
from loadtests.bench_storage import bench_writer


async def bench_databases(server_dsn: str) -> int:
    admin = await asyncpg.connect(server_dsn)
    try:
        count: int = await admin.fetchval(
            "SELECT count(*) FROM pg_database WHERE datname LIKE 'gavel_bench_%'"
        )
    finally:
        await admin.close()
    return count


@pytest.mark.parametrize("mode", ["group", "single"])
async def test_bench_writer_smoke(pg_server_dsn: str, mode: Mode) -> None:
    before = await bench_databases(pg_server_dsn)
    result = await bench_writer(pg_server_dsn, mode=mode, runners=5, seconds=0.2)
    assert result.mode == mode
    assert result.appends > 0
    assert result.appends_per_s > 0
    assert 0 < result.p50_ms <= result.p99_ms
    if mode == "single":
        assert result.commits == result.appends
    assert await bench_databases(pg_server_dsn) == before
