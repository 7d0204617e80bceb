"""Read and write OTLP export requests in the files the Collector's file exporter produces.

otelpriv sanitizes telemetry at rest as well as in flight, and the common way to get telemetry
into a file is the OpenTelemetry Collector's ``file`` exporter. It has two formats:

* ``format: json`` writes one export request per line in the OTLP/JSON encoding. That encoding
  is protobuf's canonical JSON mapping with one deliberate deviation: ``traceId``, ``spanId``
  and ``parentSpanId`` are hex strings, not base64. ``google.protobuf.json_format`` knows
  nothing of this, so the id fields are rewritten in the plain dict on the way in and out;
  every other ``bytes`` field (e.g. ``AnyValue.bytesValue``) stays base64 as the spec says.
  The walk that does this is driven by the message descriptors and only descends into messages
  that can contain ids, so it never mistakes a user's attribute named ``traceId`` for an id and
  skips attribute subtrees, which make up most of a payload.
* ``format: proto`` writes each serialized request preceded by its length as a 4-byte
  big-endian unsigned integer. Those bytes do not say which signal they hold, so the caller
  must.

Decoding errors name the line (or frame) and the schema path that is wrong, never the value
found there: the payload is exactly what this project exists to protect, and error messages end
up in logs and bug reports. For the same reason the underlying JSON and protobuf exceptions, whose
text can quote the input, are suppressed from the tracebacks of the errors raised here.
"""

from __future__ import annotations

import base64
import enum
import json
import re
import struct
from collections.abc import Callable, Iterable, Iterator
from typing import Any, cast

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message
from google.protobuf.message_factory import GetMessageClass
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from otelpriv._errors import InputError

__all__ = [
    "OtlpDecodeError",
    "Signal",
    "dump_json_line",
    "dump_proto",
    "read_json_lines",
    "read_proto_stream",
]


class Signal(enum.Enum):
    """The three OTLP signals, each carried by its own export request message."""

    TRACES = "traces"
    LOGS = "logs"
    METRICS = "metrics"

    @property
    def request_type(self) -> type[Message]:
        """The protobuf ``Export*ServiceRequest`` class that carries this signal."""
        return _REQUEST_TYPES[self]


_REQUEST_TYPES: dict[Signal, type[Message]] = {
    Signal.TRACES: ExportTraceServiceRequest,
    Signal.LOGS: ExportLogsServiceRequest,
    Signal.METRICS: ExportMetricsServiceRequest,
}


def _top_level_keys(signal: Signal) -> tuple[str, str]:
    field = signal.request_type.DESCRIPTOR.fields[0]
    return field.json_name, field.name


# Both spellings of each request's only field: the JSON name and the proto name.
_SIGNAL_BY_KEY: dict[str, Signal] = {
    key: signal for signal in Signal for key in _top_level_keys(signal)
}

_CAMEL_KEYS = ", ".join(_top_level_keys(signal)[0] for signal in Signal)


class OtlpDecodeError(InputError):
    """Input that is not a well-formed OTLP export request.

    ``line`` is the 1-based line of JSON-lines input, ``frame`` the 1-based frame of
    length-prefixed protobuf input; whichever does not apply is ``None``. The message never
    quotes the offending payload.
    """

    def __init__(self, reason: str, *, line: int | None = None, frame: int | None = None) -> None:
        if line is not None:
            where = f"line {line}: "
        elif frame is not None:
            where = f"frame {frame}: "
        else:
            where = ""
        super().__init__(where + reason)
        self.reason = reason
        self.line = line
        self.frame = frame


# --- id fields -------------------------------------------------------------------------------

# Byte length of each id field. Any bytes field with one of these names is an id; that covers
# spans, span links, log records and metric exemplars.
_ID_LENGTHS = {"trace_id": 16, "span_id": 8, "parent_span_id": 8}

_HEX_RE = re.compile(r"[0-9a-fA-F]*")


def _is_repeated(field: FieldDescriptor) -> bool:
    # Recent protobuf releases dropped ``label``; older ones lack ``is_repeated``.
    is_repeated = getattr(field, "is_repeated", None)
    if is_repeated is not None:
        return bool(is_repeated)
    return bool(field.label == FieldDescriptor.LABEL_REPEATED)


def _is_id_field(field: FieldDescriptor) -> bool:
    return field.type == FieldDescriptor.TYPE_BYTES and field.name in _ID_LENGTHS


def _is_plain_message_field(field: FieldDescriptor) -> bool:
    return (
        field.type == FieldDescriptor.TYPE_MESSAGE and not field.message_type.GetOptions().map_entry
    )


_HAS_IDS: dict[str, bool] = {}


def _has_ids(descriptor: Descriptor) -> bool:
    """Whether ``descriptor`` or any message reachable from it has an id field."""
    cached = _HAS_IDS.get(descriptor.full_name)
    if cached is not None:
        return cached
    seen: set[str] = set()
    pending = [descriptor]
    found = False
    while pending and not found:
        current = pending.pop()
        if current.full_name in seen:
            continue
        seen.add(current.full_name)
        for field in current.fields:
            if _is_id_field(field):
                found = True
                break
            if _is_plain_message_field(field):
                pending.append(field.message_type)
    _HAS_IDS[descriptor.full_name] = found
    return found


# Per message type: its fields under both spellings (JSON name and proto name).
_FIELDS_BY_KEY: dict[str, dict[str, FieldDescriptor]] = {}


def _fields_by_key(descriptor: Descriptor) -> dict[str, FieldDescriptor]:
    fields = _FIELDS_BY_KEY.get(descriptor.full_name)
    if fields is None:
        fields = {}
        for field in descriptor.fields:
            fields[field.json_name] = field
            fields[field.name] = field
        _FIELDS_BY_KEY[descriptor.full_name] = fields
    return fields


# Per message type: the subset of ``_fields_by_key`` that can lead to an id.
_ID_PLANS: dict[str, dict[str, FieldDescriptor]] = {}


def _id_plan(descriptor: Descriptor) -> dict[str, FieldDescriptor]:
    plan = _ID_PLANS.get(descriptor.full_name)
    if plan is None:
        plan = {
            key: field
            for key, field in _fields_by_key(descriptor).items()
            if _is_id_field(field)
            or (_is_plain_message_field(field) and _has_ids(field.message_type))
        }
        _ID_PLANS[descriptor.full_name] = plan
    return plan


class _BadInput(Exception):
    """Internal: a problem found in a decoded JSON value; ``reason`` is safe to show."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _json_kind(value: object) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"


def _hex_to_base64(value: object, field: FieldDescriptor, path: str) -> str:
    size = _ID_LENGTHS[field.name]
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or len(value) != 2 * size or not _HEX_RE.fullmatch(value):
        raise _BadInput(f"{path}: expected {2 * size} hex digits ({size} bytes) or an empty string")
    return base64.b64encode(bytes.fromhex(value)).decode("ascii")


def _base64_to_hex(value: object, field: FieldDescriptor, path: str) -> str:
    # Only ever applied to the output of ``MessageToDict``, where bytes are base64 strings.
    return base64.b64decode(cast(str, value)).hex()


_Convert = Callable[[object, FieldDescriptor, str], str]


def _rewrite_ids(obj: dict[str, Any], descriptor: Descriptor, path: str, convert: _Convert) -> None:
    """Apply ``convert(value, field, path)`` to every id field in the message dict ``obj``."""
    plan = _id_plan(descriptor)
    if not plan:
        return
    for key, value in obj.items():
        field = plan.get(key)
        if field is None or value is None:
            continue
        field_path = f"{path}.{key}" if path else key
        if _is_id_field(field):
            obj[key] = convert(value, field, field_path)
        elif _is_repeated(field):
            if not isinstance(value, list):
                raise _BadInput(f"{field_path}: expected an array, found {_json_kind(value)}")
            for index, item in enumerate(value):
                item_path = f"{field_path}[{index}]"
                if not isinstance(item, dict):
                    raise _BadInput(f"{item_path}: expected an object, found {_json_kind(item)}")
                _rewrite_ids(item, field.message_type, item_path, convert)
        else:
            if not isinstance(value, dict):
                raise _BadInput(f"{field_path}: expected an object, found {_json_kind(value)}")
            _rewrite_ids(value, field.message_type, field_path, convert)


def _parses(obj: dict[str, Any], descriptor: Descriptor) -> bool:
    try:
        json_format.ParseDict(obj, GetMessageClass(descriptor)(), ignore_unknown_fields=True)
    except json_format.ParseError:
        return False
    return True


def _locate_parse_error(obj: dict[str, Any], descriptor: Descriptor, path: str) -> str:
    """The path of the innermost field of ``obj`` that ``ParseDict`` rejects.

    ``ParseError`` text can quote the input and its field chain skips oneof members, so the
    field is found by parsing ever smaller parts instead. Only runs once parsing has failed.
    Returns ``path`` when no single field is to blame (e.g. two members of one oneof).
    """
    fields = _fields_by_key(descriptor)
    for key, value in obj.items():
        field = fields.get(key)
        if field is None or _parses({key: value}, descriptor):
            continue
        field_path = f"{path}.{key}" if path else key
        if not _is_plain_message_field(field):
            return field_path
        if not _is_repeated(field):
            if isinstance(value, dict):
                return _locate_parse_error(value, field.message_type, field_path)
            return field_path
        if not isinstance(value, list):
            return field_path
        for index, item in enumerate(value):
            item_path = f"{field_path}[{index}]"
            if not isinstance(item, dict):
                return item_path
            if not _parses(item, field.message_type):
                return _locate_parse_error(item, field.message_type, item_path)
        return field_path
    return path


# --- JSON lines ------------------------------------------------------------------------------


def _decode_json_line(text: str) -> tuple[Signal, Message]:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as error:
        # The messages of the json module are fixed phrases; the one for a bad escape appends
        # the escape itself, which is cut off with everything after the colon.
        what = error.msg.partition(":")[0]
        raise _BadInput(f"invalid JSON ({what} at column {error.colno})") from None
    except RecursionError:
        raise _BadInput("invalid JSON (nested too deeply)") from None
    if not isinstance(obj, dict):
        raise _BadInput(f"expected a JSON object, found {_json_kind(obj)}")
    signals = {_SIGNAL_BY_KEY[key] for key in obj if key in _SIGNAL_BY_KEY}
    if not signals:
        raise _BadInput(f"not an OTLP export request: expected a top-level {_CAMEL_KEYS} key")
    if len(signals) > 1:
        raise _BadInput("not an OTLP export request: it mixes keys of several signals")
    (signal,) = signals
    request_type = signal.request_type
    _rewrite_ids(obj, request_type.DESCRIPTOR, "", _hex_to_base64)
    message = request_type()
    try:
        json_format.ParseDict(obj, message, ignore_unknown_fields=True)
    except json_format.ParseError:
        path = _locate_parse_error(obj, request_type.DESCRIPTOR, "")
        reason = f"{path}: invalid value" if path else f"invalid {request_type.DESCRIPTOR.name}"
        raise _BadInput(reason) from None
    return signal, message


def read_json_lines(stream: Iterable[str]) -> Iterator[tuple[Signal, Message]]:
    """Decode OTLP/JSON lines as written by the Collector's file exporter.

    Each non-blank line must hold one export request; its top-level key (``resourceSpans``,
    ``resourceLogs`` or ``resourceMetrics``, or the proto spelling) decides the signal. Field
    names may be lowerCamelCase or proto snake_case; fields unknown to this OTLP version are
    ignored, as the OTLP spec requires of receivers. Raises :class:`OtlpDecodeError` naming the
    first bad line.
    """
    for number, text in enumerate(stream, start=1):
        if not text.strip():
            continue
        try:
            yield _decode_json_line(text)
        except _BadInput as error:
            raise OtlpDecodeError(error.reason, line=number) from None


def _check_message(signal: Signal, message: Message) -> None:
    if not isinstance(message, signal.request_type):
        raise TypeError(
            f"Signal.{signal.name} is carried by {signal.request_type.__name__}, "
            f"not by {type(message).__name__}"
        )


def dump_json_line(signal: Signal, message: Message) -> str:
    """Encode ``message`` as one compact OTLP/JSON line, without the trailing newline.

    Keys are lowerCamelCase, ids hex, enums integers and 64-bit integers decimal strings.
    """
    _check_message(signal, message)
    obj = json_format.MessageToDict(message, use_integers_for_enums=True)
    _rewrite_ids(obj, message.DESCRIPTOR, "", _base64_to_hex)
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


# --- length-prefixed protobuf ----------------------------------------------------------------

_LENGTH = struct.Struct(">I")


def read_proto_stream(data: bytes, signal: Signal) -> Iterator[Message]:
    """Decode the Collector file exporter's ``format: proto`` output.

    ``data`` is a sequence of frames, each a 4-byte big-endian length followed by that many
    bytes of a serialized ``signal.request_type``. Raises :class:`OtlpDecodeError` naming the
    first bad frame.
    """
    view = memoryview(data)
    request_type = signal.request_type
    offset = 0
    frame = 0
    while offset < len(view):
        frame += 1
        remaining = len(view) - offset
        if remaining < _LENGTH.size:
            raise OtlpDecodeError(
                f"truncated length prefix ({remaining} of {_LENGTH.size} bytes)", frame=frame
            )
        (size,) = _LENGTH.unpack_from(view, offset)
        offset += _LENGTH.size
        remaining -= _LENGTH.size
        if remaining < size:
            raise OtlpDecodeError(f"truncated message ({remaining} of {size} bytes)", frame=frame)
        message = request_type()
        try:
            message.ParseFromString(view[offset : offset + size])
        except DecodeError:
            raise OtlpDecodeError(
                f"not a valid {request_type.DESCRIPTOR.name}", frame=frame
            ) from None
        offset += size
        yield message


def dump_proto(message: Message) -> bytes:
    """Serialize ``message`` as one length-prefixed frame of the ``format: proto`` output."""
    payload = message.SerializeToString()
    if len(payload) > 0xFFFFFFFF:
        raise ValueError("message too large for a 4-byte length prefix")
    return _LENGTH.pack(len(payload)) + payload
