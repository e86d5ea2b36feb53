from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Settings, SettingsError, load_settings


def test_defaults_are_the_embedded_product() -> None:
    settings = load_settings({"PATH": "/bin", "HOME": "/root"})
    assert settings.database_url.startswith("sqlite:///")
    assert settings.base_model == "bundled"
    assert settings.knowledge_base.is_file()
    assert settings.nlu_bundle is not None and (settings.nlu_bundle / "bundle.json").is_file()
    assert settings.port == 8000


def test_environment_variables_override_and_are_typed() -> None:
    settings = load_settings(
        {
            "CXAGENT_DATABASE_URL": "postgresql+psycopg://u@db/cx",
            "CXAGENT_PORT": "9000",
            "CXAGENT_ANSWER_THRESHOLD": "0.6",
            "CXAGENT_AUTO_MIGRATE": "false",
            "CXAGENT_NLU_BUNDLE": "none",
            "CXAGENT_INDEX_DIR": "/srv/index",
        }
    )
    assert settings.port == 9000 and settings.answer_threshold == 0.6
    assert settings.auto_migrate is False and settings.nlu_bundle is None
    assert settings.index_dir == Path("/srv/index")


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"CXAGENT_PORT": "eighty"}, "CXAGENT_PORT"),
        ({"CXAGENT_ANSWER_THRESHOLD": "2"}, "CXAGENT_ANSWER_THRESHOLD"),
        ({"CXAGENT_DATABASE_URL": "mysql://x"}, "not supported"),
        ({"CXAGENT_INDEX_TYPE": "lsh"}, "CXAGENT_INDEX_TYPE"),
        ({"CXAGENT_DATABSE_URL": "sqlite://"}, "CXAGENT_DATABSE_URL"),
    ],
)
def test_bad_settings_name_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(environ)


def test_settings_are_frozen() -> None:
    with pytest.raises(ValueError):
        Settings().port = 1  # type: ignore[misc]
