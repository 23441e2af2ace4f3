"""Build hook: compiles the PKCS#11 modules ``strongroom/libstrongroom.so`` and
``strongroom/libstrongroom-client.so``.

The in-process module is a cffi embedding-mode shared library (see
src/strongroom/abi/build_ffi.py). The client module is plain C linking only libc
(src/strongroom/client/*.c, one internal header client.h), with tables generated at build
time by src/strongroom/client/gen_tables.py. Both are setuptools Extensions, so that
``pip install .`` puts them inside the installed package and ``pip install -e .`` builds
them in place (src/strongroom/).
"""
from __future__ import annotations

import glob
import importlib.util
import os

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
EXT_NAME = "strongroom.libstrongroom"
CLIENT_EXT_NAME = "strongroom.libstrongroom_client"
CLIENT_FILENAME = "libstrongroom-client.so"
#: the client module's C files (relative paths: setuptools wants them so)
CLIENT_SOURCES = sorted(os.path.relpath(p, HERE)
                        for p in glob.glob(os.path.join(HERE, "src", "strongroom", "client", "*.c")))


def _load_build_ffi():
    path = os.path.join(HERE, "src", "strongroom", "abi", "build_ffi.py")
    spec = importlib.util.spec_from_file_location("_strongroom_build_ffi", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class BuildStrongroom(build_ext):
    def get_ext_filename(self, fullname: str) -> str:
        parts = fullname.split(".")
        if parts[-1] == "libstrongroom":
            return os.path.join(*parts[:-1], "libstrongroom.so")
        if parts[-1] == "libstrongroom_client":
            return os.path.join(*parts[:-1], CLIENT_FILENAME)
        return super().get_ext_filename(fullname)

    def get_libraries(self, ext: Extension) -> list:
        if ext.name == CLIENT_EXT_NAME:
            return list(ext.libraries)       # libc only: never libpython
        return super().get_libraries(ext)

    def get_export_symbols(self, ext: Extension) -> list:
        if ext.name == CLIENT_EXT_NAME:
            return []                        # no PyInit_*: the version script exports C_*
        return super().get_export_symbols(ext)

    def _build_client(self, ext: Extension) -> None:
        import sys

        tmp = os.path.join(os.path.abspath(self.build_temp), "strongroom_client")
        src = os.path.join(HERE, "src")
        sys.path.insert(0, src)
        try:
            from strongroom.client import gen_tables

            gen_tables.write(_load_build_ffi(), tmp)
        finally:
            sys.path.remove(src)
        script = os.path.join(tmp, "client.map")
        with open(script, "w", encoding="utf-8") as fh:
            fh.write("{\n  global:\n    C_*;\n  local:\n    *;\n};\n")
        ext.include_dirs = [tmp, os.path.join(HERE, "src", "strongroom", "client")]
        ext.extra_compile_args = ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-fvisibility=hidden"]
        ext.extra_link_args = [f"-Wl,--version-script={script}", "-Wl,--as-needed", "-Wl,-z,defs"]
        self.force = True
        super().build_extension(ext)

    def build_extension(self, ext: Extension) -> None:
        if ext.name == CLIENT_EXT_NAME:
            return self._build_client(ext)
        if ext.name != EXT_NAME:
            return super().build_extension(ext)
        build_ffi = _load_build_ffi()
        tmp = os.path.join(os.path.abspath(self.build_temp), "strongroom_abi")
        os.makedirs(tmp, exist_ok=True)
        c_file = os.path.join(tmp, build_ffi.MODULE_NAME + ".c")
        build_ffi.emit(c_file)
        kw = build_ffi.extension_kwargs(tmp)
        ext.sources = [c_file]
        for key, value in kw.items():
            setattr(ext, key, list(value))
        # the generated C embeds build-time paths: always rebuild
        self.force = True
        return super().build_extension(ext)


setup(
    ext_modules=[Extension(EXT_NAME, sources=["src/strongroom/abi/shim.c"]),
                 Extension(CLIENT_EXT_NAME, sources=CLIENT_SOURCES,
                           depends=["src/strongroom/client/client.h"])],
    cmdclass={"build_ext": BuildStrongroom},
)
