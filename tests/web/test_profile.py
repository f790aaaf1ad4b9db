"""Profile: API tokens created here are shown once, work against /api/v1, and can be
revoked; the password can be changed."""

from __future__ import annotations

import re

from .conftest import PASSWORD, Web, sign_in


def test_create_use_and_revoke_a_token(web: Web) -> None:
    response = web.post_form("member", "/profile/tokens", {"name": "GitHub <CI>"}, "/profile")
    page = response.text
    assert response.status_code == 200
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
    assert other.status_code == 404
    revoked = web.post_form("member", f"/profile/tokens/{token_id}/revoke", {}, "/profile")
    assert revoked.status_code == 303
    me = api.get("/api/v1/user", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401
    assert "revoked" in web["member"].get("/profile").text


def test_token_name_is_required(web: Web) -> None:
    response = web.post_form("member", "/profile/tokens", {"name": "  "}, "/profile")
    assert response.status_code == 422


def test_change_password(web: Web) -> None:
    def change(current: str, new: str) -> int:
        form = {"current_password": current, "new_password": new}
        return web.post_form("viewer", "/profile/password", form, "/profile").status_code

    assert change("nope", "brand new password") == 422  # wrong current password
    assert change(PASSWORD, "short") == 422
    assert change(PASSWORD, "brand new password") == 303
    sign_in(web.new_client(), "viewer@example.com", "brand new password")
