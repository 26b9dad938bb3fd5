"""Security and limit settings, and the channel configurations Rasa builds from them."""

from __future__ import annotations

import pytest
from rasa.core.run import create_http_input_channels

from bot.channels import JikimiRestInput, JikimiSocketIOInput
from jikimi.cli import build_parser
from jikimi.settings import load_settings

BASE = {"RASA_TOKEN": "t", "JIKIMI_SECRET_KEY": "k"}


def settings(tmp_path, **env):
    return load_settings(environ={**BASE, **env}, root=tmp_path)


def test_defaults(tmp_path):
    s = settings(tmp_path)
    assert s.env == "development"
    assert s.credentials_path == tmp_path / "bot" / "credentials.yml"
    assert s.widget_origins == ("http://127.0.0.1:8000",)
    assert (s.sender_messages_per_minute, s.ip_requests_per_minute) == (30, 600)
    assert s.max_request_bytes == 131072 and s.action_timeout_s == 10
    assert s.retention_days == 90


def test_production_selects_the_credentials_without_rest(tmp_path):
    s = settings(tmp_path, JIKIMI_ENV="production")
    assert s.credentials_path == tmp_path / "bot" / "credentials-production.yml"
    explicit = settings(tmp_path, JIKIMI_ENV="production", JIKIMI_CREDENTIALS="other.yml")
    assert explicit.credentials_path == tmp_path / "other.yml"


def test_widget_origins_follow_the_desk_and_can_be_named(tmp_path):
    s = settings(
        tmp_path, JIKIMI_DESK_PORT="8100", JIKIMI_PUBLIC_URL="https://jikimi.example.org/x/"
    )
    assert s.widget_origins == ("http://127.0.0.1:8100", "https://jikimi.example.org")
    named = settings(tmp_path, JIKIMI_WIDGET_ORIGIN="https://a.org, https://b.org:8443")
    assert named.widget_origins == ("https://a.org", "https://b.org:8443")


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("JIKIMI_ENV", "prod", "JIKIMI_ENV must be one of"),
        ("JIKIMI_WIDGET_ORIGIN", "*", "JIKIMI_WIDGET_ORIGIN must be origins"),
        ("JIKIMI_WIDGET_ORIGIN", "https://a.org/path", "JIKIMI_WIDGET_ORIGIN must be origins"),
        ("JIKIMI_WIDGET_ORIGIN", " , ", "at least one origin"),
        ("JIKIMI_IP_REQUESTS_PER_MINUTE", "-1", "must not be negative"),
        ("JIKIMI_SENDER_MESSAGES_PER_MINUTE", "many", "must be a whole number"),
        ("JIKIMI_ACTION_TIMEOUT_S", "0", "at least 1"),
    ],
)
def test_bad_values_are_clear_errors(tmp_path, name, value, message):
    with pytest.raises(ValueError, match=message):
        settings(tmp_path, **{name: value})


def test_rasa_builds_rest_and_socketio_from_the_local_credentials():
    s = load_settings(environ=BASE)
    channels = create_http_input_channels(None, str(s.credentials_path))
    assert {type(c) for c in channels} >= {JikimiRestInput, JikimiSocketIOInput}


def test_rasa_builds_no_rest_channel_from_the_production_credentials():
    s = load_settings(environ={**BASE, "JIKIMI_ENV": "production"})
    channels = create_http_input_channels(None, str(s.credentials_path))
    assert JikimiSocketIOInput in {type(c) for c in channels}
    assert not any(c.name() == "rest" for c in channels)


def test_purge_command_is_documented():
    parser = build_parser()
    args = parser.parse_args(["purge", "--older-than", "30"])
    assert args.older_than == 30
    assert parser.parse_args(["purge"]).older_than is None
