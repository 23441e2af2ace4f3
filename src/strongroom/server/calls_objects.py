"""The object calls (PKCS#11 v3.0 §5.7) on the wire: C_CreateObject .. C_FindObjectsFinal.
Templates arrive as ``aA`` (server/attribute_wire.py) and are wiped when the core returns;
C_GetAttributeValue answers its ``fA`` with the values and its own CK_RV."""
from __future__ import annotations

from .._records import TYPE_CHECKING
from ..pkcs11 import limits as L
from ..wipe import wiped
from .attribute_wire import encode_get_answer, read_wanted
from .call_io import template

if TYPE_CHECKING:
    from .calls import Handler
    from .context import Context
    from .message import MessageReader, MessageWriter


def _create_object(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
    h, tpl = r.ulong(), template(r)
    r.finish()
    w.ulong(wiped(ctx.app.objects.create_object, h, tpl))


def _copy_object(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
    h, obj, tpl = r.ulong(), r.ulong(), template(r)
    r.finish()
    w.ulong(wiped(ctx.app.objects.copy_object, h, obj, tpl))


def _destroy_object(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
    h, obj = r.ulong(), r.ulong()
    r.finish()
    ctx.app.objects.destroy_object(h, obj)


def _get_object_size(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
    h, obj = r.ulong(), r.ulong()
    r.finish()
    w.ulong(ctx.app.objects.get_object_size(h, obj))


def _get_attribute_value(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
    h, obj = r.ulong(), r.ulong()
    wanted = read_wanted(r.cursor("fA"), ctx.nested_templates)
    r.finish()
    values = ctx.app.objects.get_attribute_value(h, obj, [x.type for x in wanted])
    encoded, rv = encode_get_answer(wanted, values)
    w.raw("aA", encoded).ulong(rv)


def _set_attribute_value(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
    h, obj, tpl = r.ulong(), r.ulong(), template(r)
    r.finish()
    wiped(ctx.app.objects.set_attribute_value, h, obj, tpl)


def _find_objects_init(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
    h, tpl = r.ulong(), template(r)
    r.finish()
    wiped(ctx.app.objects.find_objects_init, h, tpl)


def _find_objects(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
    h, most = r.ulong(), r.ulong_buffer()
    r.finish()
    found = ctx.app.objects.find_objects(h, min(most, L.MAX_GET_COUNT))
    w.ulong_array(found)


def _find_objects_final(ctx: Context, r: MessageReader, w: MessageWriter) -> None:
    h = r.ulong()
    r.finish()
    ctx.app.objects.find_objects_final(h)


HANDLERS: dict[str, Handler] = {
    "C_CreateObject": _create_object, "C_CopyObject": _copy_object, "C_DestroyObject": _destroy_object,
    "C_GetObjectSize": _get_object_size, "C_GetAttributeValue": _get_attribute_value,
    "C_SetAttributeValue": _set_attribute_value, "C_FindObjectsInit": _find_objects_init,
    "C_FindObjects": _find_objects, "C_FindObjectsFinal": _find_objects_final,
}
