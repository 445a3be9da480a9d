"""The Ray engine: the tasks of a sweep as Ray tasks (``pip install "backtrader-channels[ray]"``).

The payload is put in Ray's object store once and every task reads it from there. Classes a
worker cannot import (a strategy in a script, a notebook or a test module) travel by value
(cloudpickle); the package, backtrader and everything installed must be installed on every
node, and the data must be where every node can open it (see ``docs/sweeps.md``).
"""

from __future__ import annotations

import io
import os
import pickle
import sys
import sysconfig
import types
import uuid
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

from .tasks import ItemT, Outcome, PayloadT, TaskFn, call_task, error_text

if TYPE_CHECKING:
    from _pickle import _ReducedType  # typeshed's: what a reducer gives pickle

    from backtrader.metabase import MetaParams

#: a class body's namespace, as its metaclass gets it: names to whatever the class holds
ClassNamespace: TypeAlias = dict[str, Any]

_LOOPBACK = ("127.0.0.1", "localhost", "::1")
#: modules every node must have installed: never sent by value
_INSTALLED = ("backtrader", "backtrader_channels")


def _loopback(address: str | None) -> bool:
    return address is None or address.rsplit(":", 1)[0].strip("[]") in _LOOPBACK


def _keep_to_loopback() -> None:
    """Make Ray use 127.0.0.1 for this machine, as it does on macOS and Windows: a local
    instance then listens on loopback only (not on every interface), and a loopback address
    stays loopback (Ray would replace it with the machine's outward IP, which a cluster bound
    to 127.0.0.1 does not listen on). Processes Ray starts inherit the environment."""
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    constants = sys.modules.get("ray._private.ray_constants")
    if constants is not None:  # ray was imported before: it read the variable already
        setattr(constants, "ENABLE_RAY_CLUSTER", False)  # noqa: B010 - a module read at run time


class RayEngine:
    """Run tasks on a Ray cluster.

    Parameters
    ----------
    address : str or None
        The cluster (``"HOST:PORT"``, ``"ray://HOST:10001"``, or ``"auto"``: the one started
        on this machine with ``ray start``). None: the cluster this process is already connected
        to (``ray.init`` called before), else a new local Ray instance, listening on 127.0.0.1
        only, started for this engine and stopped by ``close()``.
    jobs : int or None
        For a local instance, its CPUs (None: every core). A cluster runs as many tasks at once
        as it has CPUs.
    """

    def __init__(self, address: str | None = None, jobs: int | None = None) -> None:
        if _loopback(address):
            _keep_to_loopback()
        try:
            import ray
        except ImportError as exc:
            raise ImportError(
                'the Ray engine needs Ray: pip install "backtrader-channels[ray]"'
            ) from exc
        self._ray = ray
        self._started = False
        #: children this process had before Ray started (close waits only for Ray's own)
        self._others: set[int] = set()
        if not ray.is_initialized():
            if address is None:
                self._others = set(_children())
                ray.init(
                    address="local",  # a new instance, even if a cluster runs on this machine
                    num_cpus=jobs,
                    include_dashboard=False,
                    _node_ip_address="127.0.0.1",
                    log_to_driver=False,
                )
                self._started = True
            else:
                ray.init(address=address, log_to_driver=False)
        self.jobs = int(ray.cluster_resources().get("CPU", 1))

    def run(
        self, fn: TaskFn[PayloadT, ItemT], payload: PayloadT, items: Sequence[tuple[int, ItemT]]
    ) -> Iterator[Outcome]:
        ray = self._ray
        blob = ray.put(_dumps_for_workers(payload))
        remote = ray.remote(max_retries=0)(_call_pickled)
        pending = {
            remote.remote(fn, blob, _dumps_for_workers(item)): index for index, item in items
        }
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                index = pending.pop(ref)
                try:
                    _, ok, value = ray.get(ref)
                    if ok:
                        value = pickle.loads(value)
                except Exception as exc:  # noqa: BLE001 - the worker died, or its node was lost
                    ok, value = False, error_text(exc)
                yield index, ok, value

    def close(self) -> None:
        """Disconnect; a local instance the engine started is stopped, and ``close`` returns
        once its processes have exited (``ray.shutdown`` returns before they all have: on a
        loaded machine its servers still listened for seconds after it). Child processes that
        were not Ray's (started before it: a test's server) are not waited for."""
        if self._started:
            children = [pid for pid in _children() if pid not in self._others]
            self._ray.shutdown()
            self._started = False
            _wait_gone(children, timeout=30.0)


def _children() -> list[int]:
    """The pids of this process's children (Linux; elsewhere none are known)."""
    me = str(os.getpid())
    out: list[int] = []
    try:
        names = os.listdir("/proc")
    except OSError:
        return out
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="utf-8") as fh:
                fields = fh.read().rpartition(")")[2].split()
        except OSError:
            continue
        if len(fields) > 1 and fields[1] == me:
            out.append(int(name))
    return out


def _wait_gone(pids: list[int], timeout: float) -> None:
    """Wait (up to ``timeout`` s) until none of ``pids`` runs any more, reaping those that are
    this process's (an exited child stays in /proc until reaped)."""
    import contextlib
    import time

    deadline = time.monotonic() + timeout
    left = list(pids)
    while left and time.monotonic() < deadline:
        for pid in list(left):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            if not os.path.exists(f"/proc/{pid}"):
                left.remove(pid)
        if left:
            time.sleep(0.05)


def _call_pickled(fn: TaskFn[PayloadT, ItemT], blob: bytes, item: bytes) -> Outcome:
    """``call_task`` with the item pickled as the payload is (the classes in it rebuilt alike),
    and the result pickled so (its classes become the driver's own again)."""
    index, ok, value = call_task(fn, blob, pickle.loads(item))
    return index, ok, _dumps_for_workers(value) if ok else value


def _installed(module: types.ModuleType) -> bool:
    name = module.__name__
    if name.split(".")[0] in _INSTALLED or name in sys.builtin_module_names:
        return True
    path = getattr(module, "__file__", None)
    if not path:
        return True
    paths = sysconfig.get_paths()
    roots = {paths[k] for k in ("purelib", "platlib", "stdlib", "platstdlib") if k in paths}
    return any(os.path.abspath(path).startswith(os.path.abspath(r)) for r in roots)


def _dumps_for_workers(payload: object) -> bytes:
    """cloudpickle ``payload``, sending by value the modules a worker may not import."""
    out = io.BytesIO()
    _pickler()(out, protocol=pickle.HIGHEST_PROTOCOL).dump(payload)
    return out.getvalue()


#: module name -> whether it is sent by value (registered with cloudpickle when first met)
_SEND_BY_VALUE: dict[str, bool] = {"__main__": True}


def _by_value(name: str) -> bool:
    """Whether classes and functions of module ``name`` travel by value: a module a worker may
    not import (``__main__``, a script, a test module), registered with cloudpickle on sight."""
    known = _SEND_BY_VALUE.get(name)
    if known is None:
        from ray import cloudpickle

        module = sys.modules.get(name)
        known = _SEND_BY_VALUE[name] = module is not None and not _installed(module)
        if known:
            cloudpickle.register_pickle_by_value(module)
    return known


_PICKLER: list[type] = []


def _pickler() -> type:
    """cloudpickle's Pickler, but a backtrader class sent by value is rebuilt by its metaclass
    from its declarations (``params``, ``lines``, ``plotinfo``, ...), as its ``class``
    statement did: cloudpickle rebuilds a class from an empty skeleton and sets its attributes
    afterwards, and backtrader's metaclasses derive ``params`` and ``lines`` when the class is
    created, so the skeleton would keep its base's parameters only.

    Made on first use: importing Ray before :func:`_keep_to_loopback` ran would make a local
    instance listen on every interface."""
    if _PICKLER:
        return _PICKLER[0]
    from ray import cloudpickle

    class BacktraderPickler(cloudpickle.Pickler):
        def reducer_override(self, obj: object) -> _ReducedType:
            if isinstance(obj, (type, types.FunctionType)):
                module = getattr(obj, "__module__", None)
                sent = isinstance(module, str) and _by_value(module)  # registers it first
            if isinstance(obj, type) and _is_bt_class(obj):
                origin = vars(obj).get(_ORIGIN)  # a class rebuilt here: say where it came from
                if origin is None and sent:
                    origin = (_TOKEN, id(obj))
                    _SENT[id(obj)] = obj
                if origin is not None:
                    args = (type(obj), obj.__name__, obj.__bases__, _declarations(obj), origin)
                    return _rebuild_class, args
            return super().reducer_override(obj)

    _PICKLER.append(BacktraderPickler)
    return BacktraderPickler


def _is_bt_class(cls: type) -> bool:
    from backtrader.metabase import MetaParams

    return isinstance(cls, MetaParams)


#: attributes backtrader's metaclasses make from the declarations
_DERIVED = (
    "aliased",
    "frompackages",
    "linealias",
    "lines",
    "packages",
    "params",
    "plotinfo",
    "plotlines",
)


def _declarations(cls: MetaParams) -> ClassNamespace:
    """What the ``class`` statement of ``cls`` declared, as a namespace for its metaclass."""
    ns = {k: v for k, v in vars(cls).items() if k not in _DERIVED and k not in _SLOTS}
    ns["params"] = tuple(cls.params._getpairs().items())
    for name in ("frompackages", "packages"):
        if name in vars(cls):
            ns[name] = vars(cls)[name]
    if "lines" in vars(cls):
        inherited = {n for b in cls.__bases__ if hasattr(b, "lines") for n in b.lines._getlines()}
        ns["lines"] = tuple(n for n in cls.lines._getlines() if n not in inherited)
    for name in ("linealias", "plotinfo", "plotlines"):
        if name in vars(cls):
            ns[name] = dict(getattr(cls, name)._getpairs())
    return ns


_SLOTS = ("__dict__", "__weakref__", "__btch_origin__")
_ORIGIN = "__btch_origin__"
#: this process, among every driver and worker (a pid can repeat across machines)
_TOKEN = uuid.uuid4().hex
_SENT: dict[int, type] = {}  # the classes this process sent by declaration, by id
_REBUILT: dict[tuple[str, int], type] = {}  # the classes rebuilt here, by origin


def _rebuild_class(
    meta: type, name: str, bases: tuple[type, ...], ns: ClassNamespace, origin: tuple[str, int]
) -> type:
    """The class a declaration came from: the original in the process that sent it (results
    coming back), else one rebuilt once per process (so its helper classes keep their names)."""
    token, ident = origin
    if token == _TOKEN and ident in _SENT:
        return _SENT[ident]
    if origin in _REBUILT:
        return _REBUILT[origin]
    module = ns.get("__module__", "__main__")
    if module not in sys.modules:  # backtrader's metaclass looks the module up
        sys.modules[module] = types.ModuleType(module)
    cls = meta(name, bases, ns)
    setattr(cls, _ORIGIN, origin)
    _REBUILT[origin] = cls
    return cls
