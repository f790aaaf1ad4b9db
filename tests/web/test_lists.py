"""The projects page and a project's runs: each number says what it counts."""

from __future__ import annotations

import re

from sqlalchemy import Engine

from runhub.db.engine import write_tx
from runhub.services.status_admin import StatusChange, create_status
from runhub.web.pages import failure_label

from .conftest import Sample, Web


def _text(html: str) -> str:
    """The page's text with tags dropped and white space collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_runs_list_shows_run_ids_and_names_what_failed_counts(web: Web, sample: Sample) -> None:
    html = web["viewer"].get(f"/projects/{web.api.project_id}").text
    assert f'<span class="run-id muted">#{sample.run_id}</span>' in html
    # The sample has one Failed and one Error result: failure_count counts every status
    # the status table marks as failed (Failed, Blocked and Error by default).
    assert '<span class="fail-count">2 failed, blocked or error</span>' in html
    assert " 2 failed<" not in html


def test_project_card_says_tests_passed_out_of_tests(web: Web, sample: Sample) -> None:
    html = web["viewer"].get("/").text
    text = _text(html)
    assert f"#{sample.run_id} Nightly" in text
    assert "3 of 6 tests passed" in text  # 3 passed of 6 results (2 failing, 1 skipped)
    assert "3/6" not in text
    assert f'title="#{sample.run_id} Nightly · 3 of 6 tests passed · ' in html


def test_source_page_lists_run_ids(web: Web, sample: Sample) -> None:
    html = web["viewer"].get(f"/sources/{sample.source_id}").text
    assert f'<span class="run-id muted">#{sample.run_id}</span>' in html


def test_failure_label_follows_the_status_table(web: Web, sample: Sample, engine: Engine) -> None:
    with write_tx(engine) as conn:
        create_status(conn, StatusChange("Timed out", "#aa0000", ["timeout"], False, True, True))
    html = web["viewer"].get(f"/projects/{web.api.project_id}").text
    assert "2 with a failure status (Failed, Blocked, Error, Timed out)" in _text(html)


def test_failure_label_wording() -> None:
    def rows(*names: str) -> list[dict]:
        return [{"name": n, "is_failed": n != "Passed"} for n in names]

    assert failure_label(rows("Passed", "Failed")) == "failed"
    assert failure_label(rows("Failed", "Error")) == "failed or error"
    assert failure_label(rows("Failed", "Passed", "Blocked", "Error")) == "failed, blocked or error"
    assert failure_label(rows()) == "with a failure status"
