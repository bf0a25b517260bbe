"""A real Ralph LRS for tests: started on a free loopback port with its own data
directory, queried over HTTP like an analytics consumer would."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import requests

from lti_tool.sandbox.ralph_lrs import RalphServer

HEADERS = {"X-Experience-API-Version": "1.0.3"}


class Ralph:
    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.server = RalphServer(data_dir, username="tests", password="ralph-test-secret",
                                  port=port)

    @property
    def endpoint(self) -> str:
        return self.server.endpoint_url

    @property
    def auth(self) -> tuple[str, str]:
        return (self.server.username, self.server.password)

    def start(self) -> Ralph:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def statements(self, **params: str) -> list[dict[str, Any]]:
        """Every statement matching ``params``, following ``more`` links."""
        url = self.endpoint + "statements"
        query: dict[str, Any] | None = {"limit": 500, **params}
        out: list[dict[str, Any]] = []
        while url:
            answer = requests.get(url, params=query, auth=self.auth, headers=HEADERS,
                                  timeout=10)
            answer.raise_for_status()
            data = answer.json()
            out += data["statements"]
            more = data.get("more")
            url = self.server.base_url + more if more else ""
            query = None
        return out

    def count_by_id(self, **params: str) -> Counter[str]:
        return Counter(s["id"] for s in self.statements(**params))
