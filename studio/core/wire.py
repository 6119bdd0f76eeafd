"""JSON for the frozen dataclasses that cross a process boundary.

One codec for every message type, driven by the dataclass's fields and their annotations: a
message's shape is its class and nothing else, so neither side guesses keys. A family of
messages (the job requests, the results, the events) is told apart by a name under the
family's key (`kind`, `type`, `event`), looked up in the family's registry: a plain dict, no
import-time registration and no `exec`. A class that already has its own JSON form (a
`to_dict` and a `from_dict`) keeps it.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, TypeVar, Union, cast

from studio.core.errors import StudioError

T = TypeVar("T")
V = TypeVar("V", bound="Tagged")


class Tagged:
    """A member of a family of messages; its JSON carries `tag` under the family's `TAG_KEY`.

    A family's base overrides `variants` to return its registry (tag -> class).
    """

    TAG_KEY: ClassVar[str] = "type"
    NOUN: ClassVar[str] = "message type"  # names the tag in errors: "unknown job kind 'fly'"
    tag: ClassVar[str] = ""

    @classmethod
    def variants(cls) -> Mapping[str, type[Tagged]]:
        return {}


def registry(*classes: type[V]) -> dict[str, type[V]]:
    """A family's registry by tag; two classes of one tag are a mistake caught at once."""
    found: dict[str, type[V]] = {}
    for cls in classes:
        if not cls.tag or cls.tag in found:
            raise TypeError(f"{cls.__name__}: tag {cls.tag!r} is empty or taken")
        found[cls.tag] = cls
    return found


def to_json(value: Any) -> Any:
    """`value` as JSON values: dataclasses as dicts (with their tag), tuples as lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        data = _own_dict(value)
        if data is None:
            data = {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {value.TAG_KEY: value.tag, **data} if isinstance(value, Tagged) else data
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    return value


def from_json(cls: type[T], data: Any, where: str = "the message") -> T:
    """The `cls` that `data` describes; StudioError naming `where` and what is wrong."""
    return cast(T, _value(cls, data, where))


def _own_dict(value: Any) -> dict[str, Any] | None:
    if _has_own_form(type(value)):
        return cast(dict[str, Any], value.to_dict())
    return None


def _has_own_form(cls: type) -> bool:
    return callable(getattr(cls, "to_dict", None)) and callable(getattr(cls, "from_dict", None))


def _fail(where: str, expected: str, data: Any) -> StudioError:
    shown = repr(data)
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    return StudioError(f"{where}: expected {expected}, got {shown}")


def _value(tp: Any, data: Any, where: str) -> Any:
    if tp is Any:
        return data
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        return _union(typing.get_args(tp), data, where)
    if origin in (tuple, list):
        return _sequence(origin, typing.get_args(tp), data, where)
    if origin is dict:
        return _mapping(typing.get_args(tp), data, where)
    if isinstance(tp, type) and (dataclasses.is_dataclass(tp) or issubclass(tp, Tagged)):
        return _dataclass(tp, data, where)
    return _scalar(tp, data, where)


def _union(args: tuple[Any, ...], data: Any, where: str) -> Any:
    if data is None and type(None) in args:
        return None
    options = [a for a in args if a is not type(None)]
    if len(options) != 1:
        raise TypeError(f"{where}: only `X | None` unions cross the process boundary")
    return _value(options[0], data, where)


def _sequence(origin: type, args: tuple[Any, ...], data: Any, where: str) -> Any:
    if not isinstance(data, list | tuple):
        raise _fail(where, "a list", data)
    if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
        if len(data) != len(args):
            raise _fail(where, f"{len(args)} items", data)
        pairs = enumerate(zip(args, data, strict=True))
        return tuple(_value(a, d, f"{where}[{i}]") for i, (a, d) in pairs)
    item = args[0] if args else Any
    items = [_value(item, d, f"{where}[{i}]") for i, d in enumerate(data)]
    return tuple(items) if origin is tuple else items


def _mapping(args: tuple[Any, ...], data: Any, where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise _fail(where, "an object", data)
    item = args[1] if len(args) == 2 else Any
    return {str(k): _value(item, v, f"{where}.{k}") for k, v in data.items()}


SCALARS: dict[type, tuple[type, ...]] = {
    bool: (bool,),
    int: (int,),
    float: (int, float),
    str: (str,),
}


def _scalar(tp: Any, data: Any, where: str) -> Any:
    accepted = SCALARS.get(tp)
    if accepted is None:
        raise TypeError(f"{where}: {tp!r} cannot cross the process boundary")
    if not isinstance(data, accepted) or (tp is not bool and isinstance(data, bool)):
        raise _fail(where, tp.__name__, data)
    return float(cast(float, data)) if tp is float else data


def _dataclass(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise _fail(where, f"an object ({cls.__name__})", data)
    if issubclass(cls, Tagged) and cls.variants():
        cls, data = _variant(cls, data, where)
    if _has_own_form(cls):
        try:
            return cls.from_dict(data)  # type: ignore[attr-defined]
        except (KeyError, TypeError, ValueError) as exc:
            raise StudioError(f"{where}: not a valid {cls.__name__}: {exc}") from None
    hints = _hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    _check_names(fields, data, where)
    values = {name: _value(hints[name], data[name], f"{where}.{name}") for name in data}
    return cls(**values)


def _variant(base: type[Tagged], data: dict[str, Any], where: str) -> tuple[type, dict[str, Any]]:
    name = data.get(base.TAG_KEY)
    cls = base.variants().get(name) if isinstance(name, str) else None
    if cls is None or not issubclass(cls, base):
        known = sorted(t for t, c in base.variants().items() if issubclass(c, base))
        raise StudioError(f"{where}: unknown {base.NOUN} {name!r}; known: {known}")
    return cls, {k: v for k, v in data.items() if k != base.TAG_KEY}


def _check_names(
    fields: Mapping[str, dataclasses.Field[Any]], data: Mapping[str, Any], where: str
) -> None:
    unknown = sorted(set(data) - set(fields))
    missing = sorted(name for name, f in fields.items() if name not in data and _required(f))
    if unknown or missing:
        said = _words(("unknown", unknown), ("missing", missing))
        raise StudioError(f"{where}: {said}")


def _required(field: dataclasses.Field[Any]) -> bool:
    return field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING


def _words(*parts: tuple[str, Iterable[str]]) -> str:
    return "; ".join(f"{label} field(s) {list(names)}" for label, names in parts if names)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)
