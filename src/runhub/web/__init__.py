"""The web UI: server-rendered pages (Jinja2) over the services, served with the API."""
