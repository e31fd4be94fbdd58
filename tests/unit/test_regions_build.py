"""The composition root with several regions: one gateway per region over the shared IAM, each region's
stores apart from the home region's, which stay where they always were."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambkin import app, regions
from lambkin.config import SettingInvalid, Settings


def test_each_region_gets_its_gateway_and_its_own_stores(tmp_path: Path) -> None:
    built = app.build(Settings(data_dir=tmp_path, regions=("us-east-1", "eu-west-1")))
    try:
        regions = built.aws.regions
        assert list(regions) == ["us-east-1", "eu-west-1"]
        home, other = regions["us-east-1"].gateway, regions["eu-west-1"].gateway
        assert (home.region, other.region) == ("us-east-1", "eu-west-1")
        assert home.services["iam"]["CreateUser"] is other.services["iam"]["CreateUser"]  # IAM is global
        assert home.services["sqs"]["CreateQueue"] is not other.services["sqs"]["CreateQueue"]
        assert {p.name for p in tmp_path.glob("*.db")} >= {"lambkin.db", "queues.db", "events.db"}
        europe = tmp_path / "regions" / "eu-west-1"
        assert {p.name for p in europe.glob("*.db")} >= {"lambkin.db", "queues.db", "events.db", "metrics.db"}
        assert built.queues.registry.arn("q") == "arn:aws:sqs:us-east-1:000000000000:q"
    finally:
        built.close()


def test_a_bad_region_name_stops_the_build(tmp_path: Path) -> None:
    with pytest.raises(SettingInvalid, match="LAMBKIN_REGIONS"):
        app.build(Settings(data_dir=tmp_path, regions=("us-east-1", "moon")))


def test_every_regions_cold_starts_queue_for_the_one_hosts_init_slots(tmp_path: Path) -> None:
    """One host runs every region's sandboxes: LAMBKIN_MAX_PARALLEL_STARTS bounds the inits of all of them
    together, not each region's apart."""
    settings = Settings(data_dir=tmp_path, regions=("us-east-1", "eu-west-1"), max_parallel_starts=3)
    common = regions.shared(settings)
    built = [regions.region(settings, name, common) for name in settings.regions]
    try:
        home, other = (r.core.pools.gate for r in built)
        assert home is other is common.sandboxes.gate and home.slots == 3
    finally:
        for part in reversed((*common.parts, *(p for r in built for p in r.parts))):
            for closer in reversed(part.closers):
                closer()
