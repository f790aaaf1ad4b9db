"""The web UI's own 500 and 503 pages (HTML, no details) while the API keeps JSON."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from runhub.services import results, runs

from .conftest import Sample, Web


def _fail_with(exc: Exception) -> Any:
    def fail(*args: object, **kwargs: object) -> Any:
        raise exc

    return fail


@pytest.mark.parametrize(
    ("exc", "status", "title"),
    [
        (RuntimeError("secret detail"), 500, "Something went wrong"),
        (OperationalError("SELECT", {}, Exception("secret detail")), 503, "Database not available"),
    ],
)
def test_faults_answer_an_html_page_on_the_ui_and_json_on_the_api(
    web: Web, sample: Sample, monkeypatch: pytest.MonkeyPatch, exc: Exception, status: int,
    title: str,
) -> None:  # fmt: skip
    monkeypatch.setattr(results, "run_view", _fail_with(exc))
    page = web["member"].get(f"/runs/{sample.run_id}")
    assert page.status_code == status
    assert page.headers["content-type"].startswith("text/html")
    assert title in page.text and "secret detail" not in page.text
    assert ('href="/"' in page.text) and "Sign out" in page.text  # the usual layout
    monkeypatch.setattr(runs, "get_run", _fail_with(exc))
    api = web.api.get(f"/automation/runs/{sample.run_id}")
    assert api.status_code == status and api.headers["content-type"] == "application/json"
    assert set(api.json()) == {"message", "errors"} and "secret" not in api.text
    if status == 503:
        assert page.headers["retry-after"] == api.headers["retry-after"] == "5"
