"""Every public class, function and method says what it does, and the public
functions and methods carry type hints: the code is read in class."""
import importlib
import inspect
import pkgutil

import scratchdae


def modules():
    names = (m.name for m in pkgutil.walk_packages(scratchdae.__path__, "scratchdae."))
    # importing __main__ would run the command line
    return [importlib.import_module(n) for n in sorted(names) if not n.endswith(".__main__")]


def public_items():
    """(name, object) for each public function and class a module defines (not imports), and the
    public methods and properties each such class defines itself, plus __call__."""
    for module in modules():
        for name, obj in vars(module).items():
            if name.startswith("_") or not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            if obj.__module__ != module.__name__:
                continue
            yield f"{module.__name__}.{name}", obj
            if inspect.isclass(obj):
                for attr, member in vars(obj).items():
                    if attr.startswith("_") and attr != "__call__":
                        continue
                    if isinstance(member, (staticmethod, classmethod)):
                        member = member.__func__
                    if inspect.isfunction(member) or isinstance(member, property):
                        yield f"{module.__name__}.{name}.{attr}", member


def own_doc(obj):
    doc = obj.fget.__doc__ if isinstance(obj, property) and obj.fget else obj.__doc__
    return (doc or "").strip()


def test_every_public_item_has_its_own_docstring():
    items = list(public_items())
    assert len(items) > 250  # the walk found the package
    missing = [name for name, obj in items if not own_doc(obj)]
    assert not missing, f"no docstring: {missing}"


def test_public_functions_and_methods_have_type_hints():
    missing = []
    for name, obj in public_items():
        func = obj.fget if isinstance(obj, property) else obj
        if inspect.isclass(func):  # a class is hinted through the __init__ it defines, if any
            func = vars(func).get("__init__")
            if func is None or not inspect.isfunction(func):
                continue
        sig = inspect.signature(func)
        params = [p for i, p in enumerate(sig.parameters.values()) if not (i == 0 and p.name in ("self", "cls"))]
        no_return = sig.return_annotation is inspect.Signature.empty and func.__name__ != "__init__"
        if any(p.annotation is inspect.Parameter.empty for p in params) or no_return:
            missing.append(name)
    assert not missing, f"no type hints: {missing}"
