"""LAMBKIN_REGIONS: the regions one server serves, the home region (LAMBKIN_REGION) first, each checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambkin.config import SettingInvalid, Settings, served_regions, settings_from_environment
from lambkin.regions import regional_settings

KEY = {"LAMBKIN_ACCESS_KEY_ID": "AKID", "LAMBKIN_SECRET_ACCESS_KEY": "secret"}


def served(tmp_path: Path, **env: str) -> tuple[str, ...]:
    settings, _ = settings_from_environment(tmp_path, "127.0.0.1", 9000, {**KEY, **env})
    return served_regions(settings)


def test_without_regions_the_home_region_alone_is_served(tmp_path: Path) -> None:
    assert served(tmp_path) == ("us-east-1",)
    assert served(tmp_path, LAMBKIN_REGION="eu-west-1") == ("eu-west-1",)


def test_the_home_region_comes_first_and_none_is_served_twice(tmp_path: Path) -> None:
    listed = "eu-west-1, us-east-1,ap-southeast-2"
    home = served(tmp_path, LAMBKIN_REGION="us-east-1", LAMBKIN_REGIONS=listed)
    assert home == ("us-east-1", "eu-west-1", "ap-southeast-2")
    both = served(tmp_path, LAMBKIN_REGION="eu-west-1", LAMBKIN_REGIONS="us-east-1")
    assert both == ("eu-west-1", "us-east-1")


def test_a_list_without_lambkin_region_is_led_by_its_first(tmp_path: Path) -> None:
    settings, _ = settings_from_environment(
        tmp_path, "127.0.0.1", 9000, {**KEY, "LAMBKIN_REGIONS": "eu-central-1,us-west-2"}
    )
    assert settings.region == "eu-central-1" and settings.served == ("eu-central-1", "us-west-2")


@pytest.mark.parametrize("name", ["mars-1", "EU-WEST-1", "eu-west", "us_east_1", "eu-west-1 ; drop"])
def test_a_name_unlike_a_region_is_refused_naming_the_setting(tmp_path: Path, name: str) -> None:
    with pytest.raises(SettingInvalid, match=r"^LAMBKIN_REGIONS: .* is not an AWS region name"):
        served_regions(Settings(data_dir=tmp_path, regions=("us-east-1", name)))
    with pytest.raises(SettingInvalid, match=r"^LAMBKIN_REGION: "):
        served_regions(Settings(data_dir=tmp_path, region=name))


def test_a_cluster_serves_one_region(tmp_path: Path) -> None:
    alone = Settings(data_dir=tmp_path, regions=("us-east-1", "eu-west-1"))
    assert served_regions(alone) == ("us-east-1", "eu-west-1")
    with pytest.raises(SettingInvalid, match="LAMBKIN_NODE_NAME"):
        served_regions(Settings(data_dir=tmp_path, regions=("us-east-1", "eu-west-1"), node_name="a"))


def test_the_home_region_keeps_the_data_directory_and_another_gets_its_own(tmp_path: Path) -> None:
    home = Settings(data_dir=tmp_path, regions=("us-east-1", "eu-west-1"))
    assert regional_settings(home, "us-east-1") is home
    other = regional_settings(home, "eu-west-1")
    assert (other.region, other.data_dir) == ("eu-west-1", tmp_path / "regions" / "eu-west-1")
    assert other.routes_path == tmp_path / "regions" / "eu-west-1" / "routes.json"
    assert other.database_schema is None  # SQLite: its own files
    on_pg = regional_settings(Settings(data_dir=tmp_path, database_url="postgresql:///x"), "eu-west-1")
    assert on_pg.database_schema == "lambkin_eu_west_1"
