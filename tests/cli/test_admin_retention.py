"""`runhub admin set-retention` and `get-retention` on both backends (README "Retention")."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from runhub.db.engine import read_tx, write_tx
from runhub.services import admin, retention

from .test_admin import run_cli


@pytest.fixture
def project_id(engine: Engine) -> str:
    with write_tx(engine) as conn:
        return str(admin.create_project(conn, "Backend"))


def setting(engine: Engine, project_id: str) -> tuple[int | None, int | None]:
    with read_tx(engine) as conn:
        item = retention.current(conn, int(project_id))
    return item["run_days"], item["passed_detail_days"]


def test_set_and_get_retention(
    db_url: str, engine: Engine, project_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ("--database", db_url)
    code, out, _ = run_cli(capsys, "admin", "get-retention", project_id, *db)
    assert code == 0
    assert out == (
        f"project {project_id} keeps runs forever, passed results' fields and artifacts forever\n"
    )
    code, out, _ = run_cli(
        capsys, "admin", "set-retention", project_id, "--run-days", "90",
        "--passed-detail-days", "14", *db,
    )  # fmt: skip
    assert code == 0
    assert out == (
        f"project {project_id} keeps runs 90 days, passed results' fields and artifacts 14 days\n"
    )
    assert setting(engine, project_id) == (90, 14)
    # An option not given keeps its value; "forever" (any case) is null.
    code, out, _ = run_cli(capsys, "admin", "set-retention", project_id, "--run-days", "30", *db)
    assert code == 0 and setting(engine, project_id) == (30, 14)
    code, _, _ = run_cli(
        capsys, "admin", "set-retention", project_id, "--passed-detail-days", "Forever", *db
    )
    assert code == 0 and setting(engine, project_id) == (30, None)
    code, out, _ = run_cli(capsys, "admin", "get-retention", project_id, *db)
    assert "runs 30 days" in out and "artifacts forever" in out
    code, out, _ = run_cli(capsys, "admin", "set-retention", project_id, "--keep-forever", *db)
    assert code == 0 and setting(engine, project_id) == (None, None)
    assert "runs forever" in out
    # The API reads what the CLI set, and the pruning input lists only limited projects.
    with read_tx(engine) as conn:
        assert retention.retention_of_all_projects(conn) == []
    run_cli(capsys, "admin", "set-retention", project_id, "--run-days", "1", *db)
    with read_tx(engine) as conn:
        assert retention.retention_of_all_projects(conn) == [(int(project_id), 1, None)]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--run-days", "0"], "argument --run-days: the value must be between 1 and 36500"),
        (["--run-days", "36501"], "between 1 and 36500 days, or 'forever'"),
        (["--run-days", "ten"], "argument --run-days: the value must be a number of days"),
        (["--passed-detail-days", "-1"], "argument --passed-detail-days"),
        (
            ["--run-days", "10", "--passed-detail-days", "11"],
            "--passed-detail-days: the value (11) must not exceed --run-days (10)",
        ),
        (["--keep-forever", "--run-days", "3"], "--keep-forever cannot be combined"),
        ([], "give --run-days, --passed-detail-days or --keep-forever"),
    ],
)
def test_bad_arguments_exit_2_and_change_nothing(
    db_url: str,
    engine: Engine,
    project_id: str,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    db = ("--database", db_url)
    assert run_cli(capsys, "admin", "set-retention", project_id, "--run-days", "20", *db)[0] == 0
    code, out, err = run_cli(capsys, "admin", "set-retention", project_id, *argv, *db)
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) <= 2, err
    assert setting(engine, project_id) == (20, None)


def test_unknown_project(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    db = ("--database", db_url)
    for argv in (["set-retention", "42", "--run-days", "3"], ["get-retention", "42"]):
        code, out, err = run_cli(capsys, "admin", *argv, *db)
        assert code == 2 and out == ""
        assert err == "runhub: error: No project with id 42 exists.\n"
