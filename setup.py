"""Build hook: compiles the PKCS#11 module ``strongroom/libstrongroom.so``.

The module is a cffi embedding-mode shared library (see src/strongroom/abi/build_ffi.py).
It is declared as a setuptools Extension so that ``pip install .`` puts it inside the
installed package and ``pip install -e .`` builds it in place (src/strongroom/).
"""
from __future__ import annotations

import importlib.util
import os

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
EXT_NAME = "strongroom.libstrongroom"


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
        return super().get_ext_filename(fullname)

    def build_extension(self, ext: Extension) -> None:
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
    ext_modules=[Extension(EXT_NAME, sources=["src/strongroom/abi/shim.c"])],
    cmdclass={"build_ext": BuildStrongroom},
)
