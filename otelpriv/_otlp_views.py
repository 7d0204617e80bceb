"""Views of the OTLP export requests whose attributes stay serialized.

A view is a message type derived from the real one at import time: the same field numbers
and wire types, but every ``KeyValue`` and ``AnyValue`` field is declared ``bytes``. Parsing a
request into its view costs about half a real parse, and the walk then sees each attribute as
one ``bytes`` object it can look up in a cache, instead of reading key, value and type through
the Python API one by one. The bytes are valid wire format for the real type both ways, so a
view serializes to exactly what the real request would.

Enums become ``int32`` (the same varint on the wire), so a view keeps unknown enum values as
the real type does. Everything else, oneofs and proto3 ``optional`` included, is copied from
the real descriptor, which keeps the views in step with whatever ``opentelemetry-proto`` is
installed.
"""

from __future__ import annotations

from functools import cache

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

__all__ = ["view_class"]

_PACKAGE = "otelpriv.views"
_SERIALIZED = {KeyValue.DESCRIPTOR.full_name, AnyValue.DESCRIPTOR.full_name}


@cache
def view_class(request: type[Message]) -> type[Message]:
    """The view type of an OTLP message type (built once, then cached)."""
    descriptor = request.DESCRIPTOR
    file = descriptor_pb2.FileDescriptorProto(
        name=f"otelpriv/views/{descriptor.full_name}.proto", package=_PACKAGE, syntax="proto3"
    )
    _copy(descriptor, file, set())
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    found = pool.FindMessageTypeByName(f"{_PACKAGE}.{_flat(descriptor)}")
    return message_factory.GetMessageClass(found)


def _copy(descriptor: Descriptor, file: descriptor_pb2.FileDescriptorProto, done: set) -> None:
    """Add the view of ``descriptor`` and of every message it holds to ``file``."""
    if descriptor.full_name in done:
        return
    done.add(descriptor.full_name)
    proto = descriptor_pb2.DescriptorProto()
    descriptor.CopyToProto(proto)
    proto.name = _flat(descriptor)
    del proto.nested_type[:]
    del proto.enum_type[:]

    for field, real in zip(proto.field, descriptor.fields, strict=True):
        if real.type == FieldDescriptor.TYPE_ENUM:
            field.type = FieldDescriptor.TYPE_INT32
            field.ClearField("type_name")
        elif real.type == FieldDescriptor.TYPE_MESSAGE:
            held = real.message_type
            if held.full_name in _SERIALIZED:
                field.type = FieldDescriptor.TYPE_BYTES
                field.ClearField("type_name")
            else:
                field.type_name = f".{_PACKAGE}.{_flat(held)}"
                _copy(held, file, done)

    file.message_type.append(proto)


def _flat(descriptor: Descriptor) -> str:
    """A unique top-level name for a (possibly nested) message type."""
    return descriptor.full_name.replace(".", "_")
