"""Build hook: the optional compiled L2 book (``backtrader_channels.channels._l2book``).

The project's metadata lives in pyproject.toml; this file only adds the extension. The extension
is optional: without a C compiler, or when compiling fails, the build prints a warning and the
package installs without it (``backtrader_channels.channels.l2book`` then uses its pure-Python
book, which gives the same results). ``BTCH_NO_EXT=1`` skips building it altogether.
"""

from __future__ import annotations

import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

try:  # setuptools' own copies (distutils is gone from the standard library in 3.12)
    from setuptools.errors import CCompilerError, ExecError, PlatformError

    _BUILD_ERRORS: tuple[type[BaseException], ...] = (
        CCompilerError,
        ExecError,
        PlatformError,
    )
except ImportError:  # pragma: no cover - older setuptools
    _BUILD_ERRORS = ()
try:  # pragma: no cover - whichever distutils is importable
    from distutils.errors import (
        CCompilerError as _DCCompilerError,
    )
    from distutils.errors import (
        DistutilsExecError,
        DistutilsPlatformError,
    )

    _BUILD_ERRORS += (_DCCompilerError, DistutilsExecError, DistutilsPlatformError)
except ImportError:  # pragma: no cover
    pass
_BUILD_ERRORS += (OSError,)

EXT_NAME = "backtrader_channels.channels._l2book"


def _warn(msg: str) -> None:
    line = "*" * 78
    print(f"\n{line}\nWARNING: {msg}\n{line}\n", file=sys.stderr)


class OptionalBuildExt(build_ext):
    """``build_ext`` that warns instead of failing when the extension does not compile."""

    def run(self) -> None:
        try:
            super().run()
        except _BUILD_ERRORS as exc:
            self._skip(exc)

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except _BUILD_ERRORS as exc:
            self._skip(exc, ext.name)

    def _skip(self, exc: BaseException, name: str = EXT_NAME) -> None:
        _warn(
            f"the optional C extension {name} could not be built ({exc!r}); "
            "backtrader-channels installs without it and uses its pure-Python L2 book "
            "(same results, slower)."
        )


def _ext_modules() -> list[Extension]:
    if os.environ.get("BTCH_NO_EXT", "").strip() not in ("", "0"):
        print("BTCH_NO_EXT is set: building without the C extension", file=sys.stderr)
        return []
    args = [] if sys.platform == "win32" else ["-O3"]
    return [
        Extension(
            EXT_NAME,
            sources=["backtrader_channels/channels/_l2book.c"],
            extra_compile_args=args,
            optional=True,
        )
    ]


setup(ext_modules=_ext_modules(), cmdclass={"build_ext": OptionalBuildExt})
