"""The README stays true: every setting the services read is documented there."""

from pathlib import Path

import pytest

from eventbus.settings import KafkaSettings
from services.gateway.settings import GatewaySettings
from services.matcher.settings import MatcherSettings
from services.tracker.settings import TrackerSettings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


@pytest.mark.parametrize("settings", [KafkaSettings, GatewaySettings, MatcherSettings,
                                      TrackerSettings])
def test_every_setting_is_in_the_readme(settings):
    for name in settings.model_fields:
        assert f"`CIRCULAR_{name.upper()}`" in README, name


def test_readme_names_the_two_commands():
    assert "make up" in README and "make test" in README
