from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ketenherstel.bootstrap import Runtime, bootstrap
from ketenherstel.exchange.auth import LOCAL_OPERATOR
from ketenherstel.settings import Settings
from ketenherstel.web.app import create_app


@dataclass
class Api:
    client: TestClient
    runtime: Runtime
    tokens: dict[str, str]

    def h(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    rt = bootstrap(Settings(store_url=str(tmp_path / "api.db")))
    tokens: dict[str, str] = {}
    for key in ("politie", "kmar", "om", "justid"):
        rt.exchange.register_partner(principal=LOCAL_OPERATOR, key=key)
        tokens[key], _ = rt.exchange.create_token(
            principal=LOCAL_OPERATOR, role="partner", partner=key
        )
    tokens["operator"], _ = rt.exchange.create_token(
        principal=LOCAL_OPERATOR, role="operator", person="op"
    )
    tokens["viewer"], _ = rt.exchange.create_token(
        principal=LOCAL_OPERATOR, role="viewer", person="vw"
    )
    with TestClient(create_app(rt)) as client:
        yield Api(client, rt, tokens)
    rt.close()
