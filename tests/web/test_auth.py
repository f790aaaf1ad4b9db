"""Sign-in, sessions, cookies, CSRF on the sign-in form, the failed sign-in limit,
deactivated users and `runhub admin set-password`."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import Engine, func, select
from starlette.testclient import TestClient

from runhub.cli import main
from runhub.db import accounts
from runhub.db.engine import read_tx, write_tx
from runhub.db.schema import sign_in_failures
from runhub.services import admin, auth
from runhub.services.sessions import SIGN_IN_MAX_FAILURES

from .conftest import PASSWORD, Web, csrf_of, sign_in


def _attempt(client: TestClient, email: str, password: str) -> int:
    token = csrf_of(client.get("/signin").text)
    response = client.post(
        "/signin",
        data={"csrf_token": token, "email": email, "password": password},
        follow_redirects=False,
    )
    return response.status_code


def test_home_redirects_to_sign_in_when_signed_out(web: Web) -> None:
    response = web.new_client().get("/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/signin?next=/"
    page = web.new_client().get("/runs/1?status=2", follow_redirects=False)
    assert page.headers["location"] == "/signin?next=/runs/1%3Fstatus%3D2"


def test_session_cookie_flags_over_http(web: Web) -> None:
    client = web.new_client()
    token = csrf_of(client.get("/signin").text)
    response = client.post(
        "/signin",
        data={"csrf_token": token, "email": "member@example.com", "password": PASSWORD},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("runhub_session=")
    )
    flags = {part.strip().lower() for part in cookie.split(";")}
    assert "httponly" in flags and "samesite=lax" in flags and "path=/" in flags
    assert "secure" not in flags
    assert client.get("/").status_code == 200


def test_session_cookie_is_secure_over_https(web: Web) -> None:
    client = TestClient(web.api.client.app, base_url="https://testserver")
    token = csrf_of(client.get("/signin").text)
    response = client.post(
        "/signin",
        data={"csrf_token": token, "email": "member@example.com", "password": PASSWORD},
        follow_redirects=False,
    )
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("runhub_session=")
    )
    assert "secure" in {part.strip().lower() for part in cookie.split(";")}


def test_session_id_is_stored_hashed(web: Web, engine: Engine) -> None:
    session_id = web["member"].cookies["runhub_session"]
    with read_tx(engine) as conn:
        stored = conn.exec_driver_sql("SELECT session_hash FROM web_sessions").scalars().all()
    assert stored and session_id not in stored and all(len(h) == 64 for h in stored)


def test_wrong_password_and_unknown_email_are_refused_alike(web: Web) -> None:
    client = web.new_client()
    assert _attempt(client, "member@example.com", "wrong password") == 401
    assert _attempt(client, "nobody@example.com", "wrong password") == 401
    page = client.get("/signin")
    assert "runhub_session" not in client.cookies
    assert page.status_code == 200


def test_sign_in_without_csrf_token_is_forbidden(web: Web) -> None:
    client = web.new_client()
    client.get("/signin")
    response = client.post("/signin", data={"email": "member@example.com", "password": PASSWORD})
    assert response.status_code == 403
    assert "text/html" in response.headers["content-type"]
    bare = web.new_client().post(
        "/signin", data={"csrf_token": "x", "email": "member@example.com", "password": PASSWORD}
    )
    assert bare.status_code == 403  # no sign-in cookie to match


def test_failed_sign_ins_are_limited_per_email(web: Web) -> None:
    client = web.new_client()
    for _ in range(SIGN_IN_MAX_FAILURES):
        assert _attempt(client, "member@example.com", "wrong password") == 401
    token = csrf_of(client.get("/signin").text)
    response = client.post(
        "/signin",
        data={"csrf_token": token, "email": "member@example.com", "password": PASSWORD},
    )
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) > 0
    assert "Too many" in response.text
    # The account is refused from any address; other accounts from elsewhere are not.
    assert _attempt(web.new_client("192.0.2.7"), "member@example.com", PASSWORD) == 429
    assert _attempt(web.new_client("192.0.2.7"), "viewer@example.com", PASSWORD) == 303


def test_failed_sign_ins_are_limited_per_address(web: Web) -> None:
    client = web.new_client()
    for i in range(SIGN_IN_MAX_FAILURES):
        assert _attempt(client, f"guess{i}@example.com", "wrong password") == 401
    assert _attempt(client, "viewer@example.com", PASSWORD) == 429
    assert _attempt(web.new_client("192.0.2.8"), "viewer@example.com", PASSWORD) == 303


def test_good_sign_in_clears_the_email_failures(web: Web) -> None:
    client = web.new_client()
    for _ in range(SIGN_IN_MAX_FAILURES - 1):
        assert _attempt(client, "member@example.com", "wrong password") == 401
    assert _attempt(web.new_client(), "member@example.com", PASSWORD) == 303
    assert _attempt(web.new_client(), "member@example.com", "wrong password") == 401
    assert _attempt(web.new_client(), "member@example.com", PASSWORD) == 303


def test_deactivated_user_cannot_sign_in_and_loses_sessions(web: Web, engine: Engine) -> None:
    member = web["member"]
    assert member.get("/").status_code == 200
    with write_tx(engine) as conn:
        me = accounts.user_by_email(conn, "admin@example.com")
        user = accounts.user_by_email(conn, "member@example.com")
        assert me is not None and user is not None
        admin.set_active(conn, me["id"], user["id"], False)
    assert member.get("/", follow_redirects=False).status_code == 303
    assert _attempt(web.new_client(), "member@example.com", PASSWORD) == 401


def test_user_without_password_cannot_sign_in(web: Web, engine: Engine) -> None:
    with write_tx(engine) as conn:
        admin.create_user(conn, "nopass@example.com", "No Pass", "member")
    assert _attempt(web.new_client(), "nopass@example.com", "") == 401


def test_sign_out_needs_csrf_and_ends_the_session(web: Web) -> None:
    client = web["viewer"]
    assert client.post("/signout", follow_redirects=False).status_code == 403
    token = csrf_of(client.get("/").text)
    response = client.post("/signout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/signin"
    assert client.get("/", follow_redirects=False).status_code == 303


def test_next_only_redirects_to_local_paths(web: Web) -> None:
    for target, expected in (("/profile", "/profile"), ("//evil.example", "/"),
                             ("https://evil.example/", "/"), ("/\t/evil.example", "/"),
                             ("/\n/evil.example", "/"), ("/\\evil.example", "/")):  # fmt: skip
        client = web.new_client()
        token = csrf_of(client.get("/signin").text)
        response = client.post(
            "/signin",
            data={"csrf_token": token, "email": "member@example.com", "password": PASSWORD,
                  "next": target},
            follow_redirects=False,
        )  # fmt: skip
        assert response.headers["location"] == expected


def test_set_password_command(
    web: Web, db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a new long password\n"))
    assert main(["admin", "set-password", "Member@Example.com", "--password-stdin",
                 "--database", db_url]) == 0  # fmt: skip
    assert "password set for member@example.com" in capsys.readouterr().out
    # Setting a password signs the user out everywhere.
    assert web["member"].get("/", follow_redirects=False).status_code == 303
    assert _attempt(web.new_client(), "member@example.com", PASSWORD) == 401
    sign_in(web.new_client(), "member@example.com", "a new long password")


@pytest.mark.parametrize(
    ("stdin", "argv", "message"),
    [
        ("short\n", ["member@example.com"], "at least 8"),
        ("long enough password\n", ["nobody@example.com"], "no user"),
        ("\n", ["member@example.com"], "no password"),
    ],
)
def test_set_password_refusals(
    web: Web,
    db_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    stdin: str,
    argv: list[str],
    message: str,
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    with pytest.raises(SystemExit) as exc:
        main(["admin", "set-password", *argv, "--password-stdin", "--database", db_url])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_busy_password_checks_answer_503_and_count_no_failure(
    web: Web, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With every password check slot taken and no room to wait, a sign-in is refused with
    a 503 page before its password is checked, and its reserved failure is given back."""
    limit = auth.PasswordCheckLimit(1, waiting=0)
    monkeypatch.setattr(auth, "_limit", limit)
    client = web.new_client("192.0.2.9")
    with limit.slot():
        for _ in range(SIGN_IN_MAX_FAILURES + 1):
            token = csrf_of(client.get("/signin").text)
            response = client.post(
                "/signin",
                data={"csrf_token": token, "email": "member@example.com", "password": "wrong"},
            )
            assert response.status_code == 503
            assert response.headers["retry-after"] == str(auth.BUSY_RETRY_AFTER_S)
            assert "text/html" in response.headers["content-type"]
            assert "Server busy" in response.text and "checking passwords" in response.text
    with read_tx(engine) as conn:
        assert conn.execute(select(func.count()).select_from(sign_in_failures)).scalar() == 0
    assert _attempt(client, "member@example.com", PASSWORD) == 303
