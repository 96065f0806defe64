"""One AttributeValue codec: no module of the project but ``infra/dynamo_kit.py`` (and ``infra/codec.py``) spells a
DynamoDB type tag — no ``{"S": ...}`` item or key built by hand, no ``item["pk"]["S"]`` decoded by hand. Every
module is parsed with ``ast`` (nothing is imported), so strings that merely contain DynamoDB JSON (the
FilterCriteria patterns of ``functions/rate`` and ``functions/summarize``, docstrings) do not count.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: the application's packages (``tests`` and ``bench`` read raw wire items on purpose: the meter prices them)
PACKAGES = ("core", "infra", "graphql_api", "functions", "local", "deploy")
TAGS = frozenset({"S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"})
#: where the codec lives
CODEC = frozenset({"infra/dynamo_kit.py", "infra/codec.py"})
#: modules that spell a tag because that is their point, and why
ALLOWED = {
    "local/pollers.py": "narrows a stream FilterCriteria pattern, which AWS matches against the record as DynamoDB "
                        "JSON ({\"tenant\": {\"S\": [tenant]}}): a pattern, not an AttributeValue",
}


def spelled_tags(source: str) -> Iterator[tuple[int, str]]:
    """(line, what) for every type tag ``source`` spells: a dict key (``{"S": v}``), a subscript (``v["S"]``), a
    ``.get("S")``, or a membership test (``"S" in v``)."""
    def tag(node: ast.AST | None) -> str | None:
        return node.value if isinstance(node, ast.Constant) and node.value in TAGS else None

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Dict):
            found = [t for k in node.keys if (t := tag(k))]
            if found:
                yield node.lineno, f'{{"{found[0]}": ...}}'
        elif isinstance(node, ast.Subscript) and (t := tag(node.slice)):
            yield node.lineno, f'[..]["{t}"]'
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" \
                and node.args and (t := tag(node.args[0])):
            yield node.lineno, f'.get("{t}")'
        elif isinstance(node, ast.Compare) and (t := tag(node.left)) \
                and any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops):
            yield node.lineno, f'"{t}" in ..'


def modules() -> Iterator[tuple[str, str]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if not any(part.startswith(".") or part == "__pycache__" for part in path.parts):
                yield path.relative_to(ROOT).as_posix(), path.read_text()


def test_the_detector_finds_every_way_of_spelling_a_tag_and_ignores_strings_that_contain_one() -> None:
    # GIVEN hand-spelled AttributeValues of every shape, and code that merely mentions the tags in strings
    spelled = '''
key = {"pk": {"S": pk}, "sk": {"S": sk}}
values = {":n": {"N": str(n)}, ":b": {"BOOL": True}}
text = item["pk"]["S"]
kind = item.get("kind", {}).get("S")
strings = {n: v for n, v in item.items() if "S" in v}
'''
    innocent = '''
PATTERN = '{"dynamodb": {"NewImage": {"status": {"S": ["NEW"]}}}}'
"""A docstring: {"S": "x"} is DynamoDB JSON."""
names = {"#s": "S", "size": {"MB": 1}}
value = table["pk"]
'''
    # WHEN scanned THEN each hand-spelled one is found, on its line, and nothing else
    assert sorted({line for line, _ in spelled_tags(spelled)}) == [2, 3, 4, 5, 6]
    assert list(spelled_tags(innocent)) == []


def test_no_module_outside_the_codec_spells_a_dynamodb_type_tag() -> None:
    # GIVEN every module of the application's packages
    found = {path: list(spelled_tags(source)) for path, source in modules() if path not in CODEC}
    # THEN none spells a type tag but the allowed ones, which still do (else their entry goes)
    offenders = {path: hits for path, hits in found.items() if hits and path not in ALLOWED}
    assert offenders == {}, "build items, keys and expression values with infra.dynamo_kit (key, " \
                            "expression_values, to_attribute(s)) and read them with from_attribute(s)"
    assert all(found.get(path) for path in ALLOWED), "an allowed module no longer spells a tag: drop its entry"
