"""Object management functions (v3.0 §5.7): C_CreateObject .. C_FindObjectsFinal.

Every template argument is decoded by ``marshal.template_arg`` (lying lengths refused
before a byte is read) and wiped when the core returns (``marshal.wiped``)."""
from __future__ import annotations

from .._records import TYPE_CHECKING
from ..token.inprocess import APPLICATION
from . import marshal as M
from .extern import OK, exported, extern, plain

if TYPE_CHECKING:   # typing stays off the C_Initialize path (strongroom._records)
    from typing import Any

_objects = APPLICATION.objects
_template = M.template_arg
_wiped = M.wiped


@exported
def sr_py_CreateObject(h: int, pTemplate: Any, ulCount: int, phObject: Any) -> int:
    phObject[0] = _wiped(_objects.create_object, h, _template(pTemplate, ulCount))
    return OK


@exported
def sr_py_CopyObject(h: int, hObject: int, pTemplate: Any, ulCount: int, phNew: Any) -> int:
    phNew[0] = _wiped(_objects.copy_object, h, hObject, _template(pTemplate, ulCount))
    return OK


@exported
def sr_py_GetObjectSize(h: int, hObject: int, pulSize: Any) -> int:
    pulSize[0] = _objects.get_object_size(h, hObject)
    return OK


@exported
def sr_py_GetAttributeValue(h: int, hObject: int, pTemplate: Any, ulCount: int) -> int:
    values = _objects.get_attribute_value(h, hObject, M.types_in(pTemplate, ulCount))
    if len(values) != ulCount:
        raise RuntimeError("core returned a value list of the wrong length")
    return M.attribute_rv(M.fill_attributes(pTemplate, ulCount, values))


@exported
def sr_py_SetAttributeValue(h: int, hObject: int, pTemplate: Any, ulCount: int) -> int:
    _wiped(_objects.set_attribute_value, h, hObject, _template(pTemplate, ulCount))
    return OK


@exported
def sr_py_FindObjectsInit(h: int, pTemplate: Any, ulCount: int) -> int:
    _wiped(_objects.find_objects_init, h, _template(pTemplate, ulCount))
    return OK


@exported
def sr_py_FindObjects(h: int, phObject: Any, ulMax: int, pulCount: Any) -> int:
    found = _objects.find_objects(h, ulMax)
    n = len(found)
    if n > ulMax:
        raise RuntimeError("core returned more handles than asked for")
    for i in range(n):
        phObject[i] = found[i]
    pulCount[0] = n
    return OK


extern("sr_py_DestroyObject", plain(_objects.destroy_object))
extern("sr_py_FindObjectsFinal", plain(_objects.find_objects_final))
