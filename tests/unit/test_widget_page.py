"""The widget's page and settings, without a browser (tests/browser has the rest)."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from jikimi import content
from jikimi.desk.widget import link_domains, page_headers, render_embed, render_page
from jikimi.settings import ROOT, load_settings


@pytest.fixture
def settings(tmp_path):
    return load_settings(environ={}, root=tmp_path)


def test_link_domains_are_exactly_the_services_in_resources_yml():
    entries = yaml.safe_load((content.content_dir() / "resources.yml").read_text())
    urls = [entry["url"] for entry in entries if entry["url"]]
    domains = link_domains()
    assert domains and len(domains) == len(set(domains))
    for url in urls:
        assert any(domain in url for domain in domains), url
    assert "1388.go.kr" in domains


def test_page_config_and_hotlines_come_from_settings_and_content(settings):
    html = render_page(settings)
    block = re.search(
        r'<script type="application/json" id="jikimi-config">(.*?)</script>', html, re.S
    )
    config = json.loads(block.group(1))
    assert config["rasaUrl"] == "http://127.0.0.1:5005"
    assert config["exitUrl"] == "https://www.naver.com/"
    assert config["linkDomains"] == link_domains()
    for rid in ("112", "119", "109", "1388"):
        assert f'href="tel:{rid}"' in html
        assert content.hotline(rid) in html
    # Only the page's own files run: no inline script, no inline handler.
    assert not re.search(r"<script(?![^>]*(src=|type=\"application/json\"))", html)
    assert not re.search(r"\son[a-z]+=", html)


def test_the_evidence_log_links_of_this_desk_are_the_only_other_links(tmp_path):
    """widget.js makes config.evidenceBase + token tappable (issue 13 item 8)."""
    settings = load_settings(
        environ={"JIKIMI_PUBLIC_URL": "https://desk.example.kr/"}, root=tmp_path
    )
    html = render_page(settings)
    block = re.search(
        r'<script type="application/json" id="jikimi-config">(.*?)</script>', html, re.S
    )
    config = json.loads(block.group(1))
    assert config["evidenceBase"] == "https://desk.example.kr/evidence/"
    from jikimi import evidence_log

    link = evidence_log.make_link(settings, "JK-ABC234")
    assert link.startswith(config["evidenceBase"])
    assert re.fullmatch(r"[A-Za-z0-9_-]+", link.removeprefix(config["evidenceBase"]))
    script = (ROOT / "jikimi/desk/static/widget.js").read_text()
    assert "config.evidenceBase" in script and "isEvidenceLink(candidate)" in script


def test_headers_allow_only_the_rasa_server_to_be_reached(tmp_path):
    settings = load_settings(
        environ={"JIKIMI_RASA_PUBLIC_URL": "https://chat.example.kr/"}, root=tmp_path
    )
    assert settings.rasa_public_url == "https://chat.example.kr"
    policy = page_headers(settings)["Content-Security-Policy"]
    assert "connect-src 'self' https://chat.example.kr wss://chat.example.kr;" in policy
    assert "require-trusted-types-for 'script'" in policy


def test_rasa_public_url_defaults_to_a_reachable_host(tmp_path):
    settings = load_settings(
        environ={"JIKIMI_HOST": "0.0.0.0", "JIKIMI_RASA_PORT": "6005"}, root=tmp_path
    )
    assert settings.rasa_public_url == "http://127.0.0.1:6005"


@pytest.mark.parametrize("name", ["JIKIMI_RASA_PUBLIC_URL", "JIKIMI_QUICK_EXIT_URL"])
def test_a_url_setting_that_is_not_http_is_a_clear_error(tmp_path, name):
    with pytest.raises(ValueError, match=f"{name} must be an http"):
        load_settings(environ={name: "javascript:alert(1)"}, root=tmp_path)


def test_embed_script_carries_the_exit_url_as_a_js_string(tmp_path):
    settings = load_settings(
        environ={"JIKIMI_QUICK_EXIT_URL": "https://example.kr/?q=</script>\"'"}, root=tmp_path
    )
    script = render_embed(settings)
    assert "</script>" not in script
    assert 'var EXIT_URL = "https://example.kr/?q=\\u003c/script\\u003e\\"\\u0027";' in script


def test_widget_script_never_writes_html():
    from jikimi.desk.widget import STATIC

    for name in ("widget.js",):
        code = (STATIC / name).read_text()
        code = re.sub(r"/\*.*?\*/|^\s*//.*$", "", code, flags=re.S | re.M)  # comments
        assert not re.search(r"\.(inner|outer)HTML\s*=|insertAdjacentHTML|document\.write", code)
        assert not re.search(r"localStorage|indexedDB|document\.cookie", code)
