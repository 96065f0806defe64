"""Which store `make serve` starts (local.serve.start_store): Amazon DynamoDB Local by default, moto's server when
USAGE_LOCAL_STORE=moto asks for it or when Java or npm is missing for the default; nothing silently otherwise."""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any
from unittest.mock import patch

import pytest

from local import serve
from local.dynamodb_local import MissingToolError

TOUCHED = ("AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_DYNAMODBSTREAMS", "AWS_ENDPOINT_URL_S3", "USAGE_DATA_DIR",
           "USAGE_LOCAL_STORE", "POWERTOOLS_TRACE_DISABLED", "POWERTOOLS_METRICS_DISABLED", "POWERTOOLS_SERVICE_NAME")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in TOUCHED:  # restored after the test, whatever start_store sets
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("USAGE_STORE_PORT", "0")


def missing_java(*args: Any, **kwargs: Any) -> Any:
    raise MissingToolError("java", "DynamoDB Local needs a Java 17+ runtime")


def test_the_default_is_dynamodb_local_and_moto_is_chosen_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    assert serve.local_store() == "dynamodb-local"
    monkeypatch.setenv("USAGE_LOCAL_STORE", "moto")
    assert serve.local_store() == "moto"
    monkeypatch.setenv("USAGE_LOCAL_STORE", "sqlite")
    with pytest.raises(SystemExit, match="USAGE_LOCAL_STORE='sqlite': expected one of dynamodb-local, moto"):
        serve.local_store()


def test_moto_by_name_starts_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USAGE_LOCAL_STORE", "moto")
    with ExitStack() as stack, patch("local.dynamodb_local.start_dynamodb_local", side_effect=AssertionError):
        store = serve.start_store(stack)
        assert store.kind == "embedded DynamoDB (moto)" and store.data_dir is None


def test_without_java_the_default_falls_back_to_moto_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    with ExitStack() as stack, patch("local.dynamodb_local.start_dynamodb_local", side_effect=missing_java):
        store = serve.start_store(stack)
        assert store.kind == "embedded DynamoDB (moto)"
    printed = capsys.readouterr().out
    assert "`java` was not found on PATH" in printed and "using moto's server instead" in printed
    assert "USAGE_LOCAL_STORE=moto" in printed


@pytest.mark.parametrize("setting", [{"USAGE_LOCAL_STORE": "dynamodb-local"}, {"USAGE_DATA_DIR": "data"}])
def test_without_java_dynamodb_local_asked_for_is_an_error(setting: dict[str, str], tmp_path: Any,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in setting.items():
        monkeypatch.setenv(name, str(tmp_path / value) if name == "USAGE_DATA_DIR" else value)
    with ExitStack() as stack, patch("local.dynamodb_local.start_dynamodb_local", side_effect=missing_java), \
            pytest.raises(SystemExit, match="needs Java 17\\+ and npm: `java` was not found"):
        serve.start_store(stack)


def test_moto_cannot_keep_a_data_folder(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USAGE_LOCAL_STORE", "moto")
    monkeypatch.setenv("USAGE_DATA_DIR", str(tmp_path))
    with ExitStack() as stack, pytest.raises(SystemExit, match="USAGE_LOCAL_STORE=moto keeps nothing"):
        serve.start_store(stack)
