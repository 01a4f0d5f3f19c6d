"""Clinic-tunable cue settings: the shipped defaults, overrides, and clear errors."""

from __future__ import annotations

import pytest

from attune.cues import Audience, default_cue_config, load_cue_config, parse_cue_config
from attune.errors import ConfigError


def test_the_shipped_defaults_load_and_cover_every_rule():
    config = default_cue_config()
    assert config.client_arousal_rising.audience is Audience.THERAPIST
    assert config.client_recovering.audience is Audience.CLIENT
    assert "exhale" in config.client_arousal_rising.text
    # Hysteresis is on by default: re-arming needs a less extreme value than firing.
    assert (
        config.client_arousal_rising.slope_off_per_min
        > config.client_arousal_rising.slope_on_per_min
    )
    assert config.attuned.calm_off < config.attuned.calm_on
    assert all(rule.min_interval_s > 0 for rule in (config.attuned, config.signal_lost))


def test_a_clinic_file_overrides_only_what_it_names(tmp_path):
    path = tmp_path / "cues.toml"
    path.write_text(
        "[general]\ntrend_window_s = 45\n\n"
        "[rules.client_arousal_rising]\nslope_on_per_min = -12.5\n"
        'text = "Activation rising: slow down, long out-breath."\n\n'
        "[rules.attuned]\nenabled = false\n",
        "utf-8",
    )
    config = load_cue_config(path)
    default = default_cue_config()
    assert config.general.trend_window_s == 45.0
    assert config.client_arousal_rising.slope_on_per_min == -12.5
    assert config.client_arousal_rising.text.startswith("Activation")
    assert config.client_arousal_rising.hold_s == default.client_arousal_rising.hold_s
    assert config.attuned.enabled is False
    assert config.signal_lost == default.signal_lost


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[rules.atuned]\nenabled = false", "unknown key rules.atuned"),
        ("[rules.attuned]\ncalm_of = 40.0", "unknown key rules.attuned.calm_of"),
        ("[colours]\nx = 1", "unknown key colours"),
        (
            "[rules.attuned]\ncalm_on = 'high'",
            "rules.attuned.calm_on: must be a number, got 'high'",
        ),
        ("[rules.attuned]\nenabled = 1", "rules.attuned.enabled: must be true or false"),
        ("[rules.attuned]\ncalm_off = 70.0", "rules.attuned.calm_off: must be within 0-60"),
        ("[rules.attuned]\ncalm_on = 120.0", "rules.attuned.calm_on: must be within 0-100"),
        (
            "[rules.client_arousal_rising]\nslope_off_per_min = -20.0",
            "rules.client_arousal_rising.slope_off_per_min: must be within -10-100",
        ),
        (
            "[rules.client_recovering]\nslope_on_per_min = -1.0",
            "client_recovering.slope_on_per_min",
        ),
        ("[rules.signal_lost]\naudience = 'everyone'", "must be one of therapist, client"),
        ("[rules.signal_lost]\ntext = ''", "text: must be 1-160 characters"),
        ("[rules.signal_lost]\ntext = '" + "x" * 161 + "'", "text: must be 1-160 characters"),
        ("[rules.signal_lost]\nhold_s = -1.0", "hold_s: must be within 0-600"),
        ("[general]\nmin_calm_confidence = 2.0", "general.min_calm_confidence"),
        ("[rules]\nattuned = 3", "rules.attuned: must be a table"),
        ("[rules.attuned\n", "not valid TOML"),
        ("[rules.attuned]\ncalm_on = nan", "calm_on: must be within 0-100, got nan"),
    ],
)
def test_bad_values_name_the_file_and_the_key(toml, message):
    with pytest.raises(ConfigError, match="cues.toml: .*" + message.replace("(", r"\(")):
        parse_cue_config(toml, "cues.toml", default_cue_config())


def test_without_a_base_every_key_is_required():
    with pytest.raises(ConfigError, match=r"general\.trend_window_s: missing"):
        parse_cue_config("[general]\n", "partial.toml")


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match=r"cannot read cue settings .*nope\.toml"):
        load_cue_config(tmp_path / "nope.toml")
