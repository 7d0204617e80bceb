from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PseudonymizeRequest(_message.Message):
    __slots__ = ("identities",)
    IDENTITIES_FIELD_NUMBER: _ClassVar[int]
    identities: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, identities: _Optional[_Iterable[str]] = ...) -> None: ...

class PseudonymizeResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[IdentityValues]
    def __init__(self, results: _Optional[_Iterable[_Union[IdentityValues, _Mapping]]] = ...) -> None: ...

class IdentityValues(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedCompositeFieldContainer[SearchValue]
    def __init__(self, values: _Optional[_Iterable[_Union[SearchValue, _Mapping]]] = ...) -> None: ...

class SearchValue(_message.Message):
    __slots__ = ("value", "key_id", "active")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    value: str
    key_id: str
    active: bool
    def __init__(self, value: _Optional[str] = ..., key_id: _Optional[str] = ..., active: _Optional[bool] = ...) -> None: ...

class RevealRequest(_message.Message):
    __slots__ = ("token",)
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    token: str
    def __init__(self, token: _Optional[str] = ...) -> None: ...

class RevealResponse(_message.Message):
    __slots__ = ("identity", "key_id")
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    identity: str
    key_id: str
    def __init__(self, identity: _Optional[str] = ..., key_id: _Optional[str] = ...) -> None: ...
