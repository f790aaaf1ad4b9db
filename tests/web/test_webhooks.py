"""A project's webhooks page in the web UI (admins), on SQLite and PostgreSQL: add, change,
test and remove endpoints with CSRF-checked forms, recent deliveries with their attempts,
bad input re-rendered with 422, other roles 403 and outsiders 404."""

from __future__ import annotations

from sqlalchemy import Engine

from runhub.api.schemas import WebhookCreate
from runhub.services import webhooks
from runhub.services.access import Principal
from runhub.services.webhook_delivery import DeliveryConfig, deliver_due, make_client

from ..webhook_receiver import Receiver
from .conftest import Web

URL = "https://93.184.216.34/hooks/ci"


def _page(web: Web) -> str:
    return f"/projects/{web.api.project_id}/webhooks"


def _add(web: Web, **data: str) -> object:
    form = {"action": "create", "url": URL, "format": "plain", "is_active": "1",
            "event_run.completed": "1", **data}  # fmt: skip
    return web.post_form("admin", _page(web), form, _page(web))


def test_add_change_ping_and_remove(web: Web) -> None:
    response = _add(web, secret="s3cret")
    assert response.status_code == 303  # type: ignore[attr-defined]
    (hook,) = web.api.get(f"/projects/{web.api.project_id}/webhooks").json()["result"]
    assert hook["url"] == URL and hook["events"] == ["run.completed"] and hook["has_secret"]
    page = web["admin"].get(_page(web))
    assert page.status_code == 200 and URL in page.text and "s3cret" not in page.text
    assert "No deliveries yet." in page.text

    change = {
        "action": "update", "webhook_id": str(hook["id"]), "url": URL, "format": "slack",
        "event_run.created": "1", "event_quarantine.changed": "1", "clear_secret": "1",
    }  # fmt: skip
    assert web.post_form("admin", _page(web), change, _page(web)).status_code == 303
    found = web.api.get(f"/webhooks/{hook['id']}").json()["result"]
    assert found["events"] == ["run.created", "quarantine.changed"]
    assert (found["format"], found["is_active"], found["has_secret"]) == ("slack", False, False)

    ping = {"action": "ping", "webhook_id": str(hook["id"])}
    assert web.post_form("admin", _page(web), ping, _page(web)).status_code == 303
    page = web["admin"].get(_page(web))
    assert "<code>ping</code>" in page.text and "none yet" in page.text

    remove = {"action": "delete", "webhook_id": str(hook["id"])}
    assert web.post_form("admin", _page(web), remove, _page(web)).status_code == 303
    assert web.api.get(f"/projects/{web.api.project_id}/webhooks").json()["total"] == 0


def test_bad_input_is_422_and_stores_nothing(web: Web) -> None:
    bad = ({"url": "http://127.0.0.1/hook"}, {"url": "ftp://x/y"}, {"event_run.completed": ""})
    for data in bad:
        response = _add(web, **data)
        assert response.status_code == 422, response.text  # type: ignore[attr-defined]
        assert 'role="alert"' in response.text  # type: ignore[attr-defined]
    assert web.api.get(f"/projects/{web.api.project_id}/webhooks").json()["total"] == 0


def test_forms_need_csrf_and_admins(web: Web) -> None:
    bad = web["admin"].post(_page(web), data={"action": "create", "url": URL, "csrf_token": "x"})
    assert bad.status_code == 403
    for role in ("member", "viewer"):
        assert web[role].get(_page(web)).status_code == 403
    assert web["outsider"].get(_page(web)).status_code == 404


def test_deliveries_show_their_response_codes(web: Web, engine: Engine) -> None:
    receiver = Receiver(status=503).start()
    try:
        config = DeliveryConfig(allow_private=True)
        admin = Principal(web.api.get("/user").json()["id"], "Admin", "admin")
        body = WebhookCreate(url=receiver.url, events=["run.created"])
        webhooks.create(engine, admin, web.api.project_id, body, allow_private=True)
        web.api.create_run(name="Nightly")
        with make_client(config) as client:
            assert deliver_due(engine, client, config) == 1
    finally:
        receiver.stop()
    page = web["admin"].get(_page(web)).text
    assert "<code>run.created</code>" in page and "pending" in page
    assert ">503 · " in page


def test_project_tabs_link_the_page_for_admins(web: Web) -> None:
    link = f'<a href="{_page(web)}">Webhooks</a>'
    for path in ("", "/tests", "/quarantine"):
        assert link in web["admin"].get(f"/projects/{web.api.project_id}{path}").text
        assert link not in web["member"].get(f"/projects/{web.api.project_id}{path}").text
