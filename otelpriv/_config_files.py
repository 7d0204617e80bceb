"""Reading configuration files: YAML, ``${env:NAME}``, and errors that say what to fix.

The policy, the relay and the identity server read their files the same way, so a user meets
one set of rules and one style of message: the file, the field, what is wrong.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from otelpriv._errors import ConfigError

__all__ = ["read_yaml_mapping", "substitute_env", "validate"]

Model = TypeVar("Model", bound=BaseModel)

_ENV = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")


def read_yaml_mapping(
    path: str | os.PathLike[str], error: type[ConfigError] = ConfigError
) -> dict[str, Any]:
    """The file's top-level mapping (empty for an empty file), ``${env:NAME}`` substituted."""
    location = Path(path)
    try:
        text = location.read_text(encoding="utf-8")
    except OSError as failure:
        raise error(f"{location} cannot be read: {failure.strerror}") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as failure:
        mark = getattr(failure, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise error(f"{location} is not valid YAML{where}") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise error(f"{location}: expected a mapping of fields, not a list or text")
    return substitute_env(document, str(location), error)


def substitute_env(node: Any, source: str, error: type[ConfigError] = ConfigError) -> Any:
    """Replace ``${env:NAME}`` in every string; a variable that is not set refuses to load."""
    if isinstance(node, str):

        def lookup(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in os.environ:
                raise error(f"{source}: environment variable {name} is not set")
            return os.environ[name]

        return _ENV.sub(lookup, node)
    if isinstance(node, list):
        return [substitute_env(item, source, error) for item in node]
    if isinstance(node, dict):
        return {key: substitute_env(item, source, error) for key, item in node.items()}
    return node


def validate(
    model: type[Model],
    document: Any,
    source: str,
    error: type[ConfigError] = ConfigError,
    *,
    show_value: bool = False,
) -> Model:
    """Validate ``document``; the first problem becomes one line naming the field.

    ``show_value`` quotes the bad value: right for a policy, wrong where a value may be a
    token.
    """
    try:
        return model.model_validate(document)
    except ValidationError as failure:
        problem = failure.errors()[0]
        where = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        message = "unknown field" if problem["type"] == "extra_forbidden" else problem["msg"]
        bad = problem.get("input")
        shown = f" (got {bad!r})" if show_value and not isinstance(bad, dict | list) else ""
        more = len(failure.errors()) - 1
        tail = f"; and {more} more problem(s)" if more else ""
        raise error(f"{source}: {where}: {message}{shown}{tail}") from None
