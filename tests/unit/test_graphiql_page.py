"""The GraphiQL page loads only files the API serves itself, unmodified (their integrity values hold)."""

from __future__ import annotations

import base64
import hashlib
import re

from graphql_api.ide import STATIC, graphiql_page

REFERENCE = re.compile(r'(?:src|href)="([^"]+)"(?:\s+integrity="sha384-([^"]+)")?')


def test_every_file_the_page_names_is_served_from_the_package_and_matches_its_integrity_value() -> None:
    page = graphiql_page()
    names = REFERENCE.findall(page)
    assert {name for name, _ in names} >= {"graphiql/graphiql-3.8.3.min.js", "graphiql/react-18.2.0.production.min.js",
                                           "graphiql/sign-in.js"}
    assert "//" not in "".join(name for name, _ in names), "nothing from another origin (no CDN)"
    for name, integrity in names:
        if name.startswith("data:"):
            continue
        path = STATIC / name
        assert path.is_file(), name
        if name != "graphiql/sign-in.js":  # ours; every third-party file is pinned
            assert integrity, f"{name} has no integrity value"
            assert base64.b64encode(hashlib.sha384(path.read_bytes()).digest()).decode() == integrity, name
    assert (STATIC / "graphiql" / "THIRD_PARTY_LICENSES.txt").read_text().count("MIT License") >= 4
