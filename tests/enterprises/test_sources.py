"""Which sources are an authority's (configuration), and each field's freshness window."""
from __future__ import annotations

import datetime as dt

from enterprises import sources
from xiaobao.settings import Settings


def test_by_default_every_source_but_the_enterprises_own_word_is_authoritative():
    settings = Settings()
    assert [s for s in sources.SOURCES if not sources.is_authoritative(s, settings)] == \
        ["企业自报", "对话中填报"]
    assert "对话中填报" in sources.known_sources(settings)


def test_authoritative_sources_are_configuration():
    settings = Settings(register_authoritative_sources=["税务", "区大数据中心"])
    assert sources.is_authoritative("区大数据中心", settings)
    assert not sources.is_authoritative("市场监管登记", settings)
    assert "区大数据中心" in sources.known_sources(settings)


def test_freshness_window_per_field():
    settings = Settings(register_freshness_days=365,
                        register_field_freshness_days={"employees": 90})
    day = dt.date(2026, 12, 7)
    assert sources.is_fresh("revenue", day - dt.timedelta(days=365), day, settings)
    assert not sources.is_fresh("revenue", day - dt.timedelta(days=366), day, settings)
    assert sources.is_fresh("employees", day - dt.timedelta(days=90), day, settings)
    assert not sources.is_fresh("employees", day - dt.timedelta(days=91), day, settings)
    assert not sources.is_fresh("revenue", day + dt.timedelta(days=1), day, settings)
