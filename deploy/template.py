"""template.yaml read as data, for the checks and the benchmark that tie it to the code.

    template = load_template()
    for fn in lambda_functions(template):
        fn.logical_id, fn.module, fn.attribute, fn.environment, fn.events

CloudFormation's short tags (`!Ref X`, `!GetAtt X.Y`, `!Sub ...`) are read into their long forms
(`{"Ref": "X"}`, `{"Fn::GetAtt": ["X", "Y"]}`, ...), and the SAM `Globals` section is merged into each function
the way SAM merges it (maps merged key by key, everything else replaced).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

TEMPLATE_PATH = Path(__file__).resolve().parents[1] / "template.yaml"

_SCALAR_TAGS = {"Ref": "Ref", "Condition": "Condition"}


class _CfnLoader(yaml.SafeLoader):
    """A safe YAML loader that understands CloudFormation's short function tags."""


def _construct(loader: _CfnLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = _SCALAR_TAGS.get(tag_suffix, f"Fn::{tag_suffix}")
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    with open(path) as handle:
        document = yaml.load(handle, Loader=_CfnLoader)  # a SafeLoader subclass
    if not isinstance(document, dict):
        raise ValueError(f"{path}: not a template")
    return document


@dataclass(frozen=True)
class LambdaFunction:
    logical_id: str
    properties: dict[str, Any]  # with Globals merged in

    @property
    def handler(self) -> str:
        return str(self.properties["Handler"])

    @property
    def module(self) -> str:
        """The module Lambda's Python runtime imports: `functions/rate/handler.handler` -> `functions.rate.handler`."""
        return self.handler.rsplit(".", 1)[0].replace("/", ".")

    @property
    def attribute(self) -> str:
        return self.handler.rsplit(".", 1)[1]

    @property
    def source_path(self) -> Path:
        return TEMPLATE_PATH.parent / (self.module.replace(".", "/") + ".py")

    @property
    def environment(self) -> dict[str, Any]:
        return dict(self.properties.get("Environment", {}).get("Variables", {}))

    @property
    def events(self) -> dict[str, dict[str, Any]]:
        return dict(self.properties.get("Events", {}))

    def events_of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [event["Properties"] for event in self.events.values() if event["Type"] == event_type]


def _merge(global_value: Any, local_value: Any) -> Any:
    if isinstance(global_value, dict) and isinstance(local_value, dict):
        merged = dict(global_value)
        for key, value in local_value.items():
            merged[key] = _merge(global_value[key], value) if key in global_value else value
        return merged
    return local_value


def lambda_functions(template: dict[str, Any]) -> list[LambdaFunction]:
    """Every AWS::Serverless::Function, in template order, with the Globals merged in."""
    globals_ = template.get("Globals", {}).get("Function", {})
    found = []
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            properties = dict(globals_)
            for key, value in resource.get("Properties", {}).items():
                properties[key] = _merge(globals_[key], value) if key in globals_ else value
            found.append(LambdaFunction(logical_id, properties))
    return found


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == resource_type}
