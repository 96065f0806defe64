"""GraphiQL served by the API itself: the page and its files come from ``graphql_api/static``, never from a CDN.

The page (``static/graphiql.html``) is what a browser gets from ``GET /graphql``; it loads GraphiQL, React and the
explorer plugin from ``/graphiql/`` (vendored, unmodified and integrity-checked: ``scripts/vendor-graphiql.sh``)
and ``sign-in.js``, which signs every request in with the key from the link ``make serve`` prints
(``/graphql#key=...``) or from a form, remembered in the browser. The same files ship in the Lambda artifact
(``sam build`` copies the package folder), so the deployed page needs no internet beyond the API either.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent / "static"
#: Where the page's files are served; the page names them relative to /graphql, so any path prefix works.
ASSETS_PATH = "/graphiql"


@cache
def graphiql_page() -> str:
    return (STATIC / "graphiql.html").read_text(encoding="utf-8")


def graphiql_assets() -> StaticFiles:
    return StaticFiles(directory=STATIC / "graphiql")
