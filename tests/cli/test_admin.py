"""`runhub admin ...` and `runhub db ...` as a user runs them (in-process main())."""

from __future__ import annotations

import io

import pytest
from starlette.testclient import TestClient

from runhub.app import create_app
from runhub.cli import main
from runhub.settings import Settings


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_user_token_project_lifecycle(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    db = ("--database", db_url)
    code, out, _ = run_cli(
        capsys, "admin", "create-user", "Ann@Example.com", "--name", "Ann", "--role", "member", *db
    )
    assert code == 0 and out.strip().isdigit()
    code, token, _ = run_cli(
        capsys, "admin", "create-token", "ann@example.com", "--name", "ci", *db
    )
    token = token.strip()
    assert code == 0 and token.startswith("runhub_") and "\n" not in token
    code, project_id, _ = run_cli(capsys, "admin", "create-project", "Backend", *db)
    assert code == 0 and project_id.strip().isdigit()
    project_id = project_id.strip()
    code, out, _ = run_cli(capsys, "admin", "add-member", project_id, "ann@example.com", *db)
    assert code == 0 and "added" in out
    code, milestone_id, _ = run_cli(
        capsys,
        "admin",
        "create-milestone",
        project_id,
        "R1",
        "--automation-tag",
        "nightly",
        "--automation-tag",
        "release",
        *db,
    )
    assert code == 0 and milestone_id.strip().isdigit()

    app = create_app(Settings(database_url=db_url, access_log=False))
    with TestClient(app) as client:
        auth = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/v1/user", headers=auth).json()["name"] == "Ann"
        projects = client.get("/api/v1/projects", headers=auth).json()
        assert [p["name"] for p in projects["result"]] == ["Backend"]
        milestone = client.get(f"/api/v1/milestones/{milestone_id.strip()}", headers=auth).json()
        assert milestone["result"]["automation_tags"] == ["nightly", "release"]

        code, listing, _ = run_cli(capsys, "admin", "list-tokens", "ann@example.com", *db)
        assert code == 0 and "ci" in listing and token not in listing
        token_id = listing.split("\t", 1)[0]
        code, _, _ = run_cli(capsys, "admin", "revoke-token", token_id, *db)
        assert code == 0
        assert client.get("/api/v1/user", headers=auth).status_code == 401
        code, listing, _ = run_cli(capsys, "admin", "list-tokens", "ann@example.com", *db)
        assert "revoked" in listing


def test_password_stdin_is_hashed(
    db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret-pass\n"))
    code, _, _ = run_cli(
        capsys,
        "admin",
        "create-user",
        "bo@example.com",
        "--name",
        "Bo",
        "--password-stdin",
        "--database",
        db_url,
    )
    assert code == 0
    from runhub.db import accounts
    from runhub.db.engine import make_engine, read_tx
    from runhub.services.auth import verify_password

    engine = make_engine(db_url)
    with read_tx(engine) as conn:
        row = accounts.user_by_email(conn, "bo@example.com")
    engine.dispose()
    assert row is not None and row["password_hash"] and "s3cret" not in row["password_hash"]
    assert verify_password(row["password_hash"], "s3cret-pass")


@pytest.mark.parametrize(
    "argv",
    [
        ("admin", "create-user", "not-an-email", "--name", "X"),
        ("admin", "create-user", "x@example.com"),  # --name missing
        ("admin", "create-user", "x@example.com", "--name", "X", "--role", "boss"),
        ("admin", "create-token", "nobody@example.com"),
        ("admin", "revoke-token", "abc"),
        ("admin", "revoke-token", "999"),
        ("admin", "add-member", "999", "nobody@example.com"),
        ("admin", "create-milestone", "999", "M"),
        ("admin", "frobnicate"),
        ("db", "upgrade", "--database", "mysql://x@y/z"),
        ("serve", "--workers", "0"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    db_url: str, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    extra = () if "--database" in argv or argv[0] == "serve" else ("--database", db_url)
    code, out, err = run_cli(capsys, *argv, *extra)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and "error" in err


def test_duplicate_user_is_refused(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = ("admin", "create-user", "d@example.com", "--name", "D", "--database", db_url)
    assert run_cli(capsys, *args)[0] == 0
    code, _, err = run_cli(capsys, *args)
    assert code == 2 and "exists" in err


def test_db_current_and_upgrade(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    from runhub.db.engine import make_engine
    from runhub.db.migrate import head_revision

    engine = make_engine(db_url)
    head = head_revision(engine)
    engine.dispose()
    code, out, _ = run_cli(capsys, "db", "current", "--database", db_url)
    assert code == 0 and out.strip() == f"{head} (head)"
    code, out, _ = run_cli(capsys, "db", "upgrade", "--database", db_url)
    assert code == 0 and head in out


def test_unreachable_database_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(
        capsys, "db", "current", "--database", "postgresql://postgres@127.0.0.1:1/x"
    )
    assert code == 1 and len(err.strip().splitlines()) == 1


def test_a_missing_postgresql_database_says_how_to_create_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from ..conftest import PG_ADMIN_URL

    url = PG_ADMIN_URL.rpartition("/")[0] + "/runhub_no_such_database"
    code, _, err = run_cli(capsys, "db", "current", "--database", url)
    assert code == 1
    assert 'database "runhub_no_such_database" does not exist' in err
    assert "createdb runhub_no_such_database" in err
