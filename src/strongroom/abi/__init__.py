"""The C ABI: ``libstrongroom.so`` (cffi embedding mode) and its marshalling.

``entry`` runs inside the shared library (it imports the ``_strongroom_abi`` cffi module
that exists only there). Nothing here is for ordinary importers: the module's path is
:func:`strongroom.modules.module_path`.

This file imports nothing: the embedded interpreter imports the package at every
C_Initialize (cold start).
"""
