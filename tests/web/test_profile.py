"""Profile: API tokens created here are shown once, work against /api/v1, and can be
revoked; the password can be changed."""

from __future__ import annotations

import re

from .conftest import PASSWORD, Web, sign_in


def test_create_use_and_revoke_a_token(web: Web) -> None:
    response = web.post_form("member", "/profile/tokens", {"name": "GitHub <CI>"}, "/profile")
    page = response.text  # type: ignore[attr-defined]
    assert response.status_code == 200  # type: ignore[attr-defined]
    token = re.findall(r'<code class="token" id="new-token">([^<]+)</code>', page)[0]
    assert "GitHub &lt;CI&gt;" in page
    api = web.api.client
    me = api.get("/api/v1/user", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["name"] == "Member"
    # Shown once: the profile lists only its prefix from now on.
    again = web["member"].get("/profile").text
    assert token not in again and token[:11] in again
    token_id = re.findall(r'action="/profile/tokens/(\d+)/revoke"', again)[-1]  # the newest
    # Another user cannot revoke it.
    other = web.post_form("viewer", f"/profile/tokens/{token_id}/revoke", {}, "/profile")
    assert other.status_code == 404  # type: ignore[attr-defined]
    revoked = web.post_form("member", f"/profile/tokens/{token_id}/revoke", {}, "/profile")
    assert revoked.status_code == 303  # type: ignore[attr-defined]
    me = api.get("/api/v1/user", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401
    assert "revoked" in web["member"].get("/profile").text


def test_token_name_is_required(web: Web) -> None:
    response = web.post_form("member", "/profile/tokens", {"name": "  "}, "/profile")
    assert response.status_code == 422  # type: ignore[attr-defined]


def test_change_password(web: Web) -> None:
    wrong = web.post_form(
        "viewer",
        "/profile/password",
        {"current_password": "nope", "new_password": "brand new password"},
        "/profile",
    )
    assert wrong.status_code == 422  # type: ignore[attr-defined]
    short = web.post_form(
        "viewer",
        "/profile/password",
        {"current_password": PASSWORD, "new_password": "short"},
        "/profile",
    )
    assert short.status_code == 422  # type: ignore[attr-defined]
    ok = web.post_form(
        "viewer",
        "/profile/password",
        {"current_password": PASSWORD, "new_password": "brand new password"},
        "/profile",
    )
    assert ok.status_code == 303  # type: ignore[attr-defined]
    sign_in(web.new_client(), "viewer@example.com", "brand new password")
