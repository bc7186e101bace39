"""Everything but the UI imports without Qt.

Runs in a fresh interpreter so that nothing this test process already imported
(pytest-qt, other tests) can hide or fake the result.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

# Walk the package, import every module outside workbench.ui, report what got in.
_PROBE = textwrap.dedent(
    """
    import importlib, json, pathlib, sys, traceback
    import workbench

    # Every module file outside workbench/ui/, found on disk: pkgutil.walk_packages
    # would import the ui's own packages (ui.editor, ui.compare, ...) to walk into them.
    root = pathlib.Path(workbench.__file__).parent
    names = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[1:2] == ("ui",) or "migrations" in parts:
            continue
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    imported, failed = [], {}
    for name in names:
        if name.rpartition(".")[2] == "__main__":  # running it is not importing it
            continue
        try:
            importlib.import_module(name)
        except Exception:
            failed[name] = traceback.format_exc(limit=3)
        else:
            imported.append(name)
    qt = sorted(m for m in sys.modules if m.split(".")[0] in ("PySide6", "shiboken6"))
    print(json.dumps({"imported": imported, "failed": failed, "qt": qt}))
    """
)


def test_no_module_outside_ui_pulls_in_qt() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert not report["failed"], "modules failed to import:\n" + "\n".join(
        f"{name}:\n{trace}" for name, trace in report["failed"].items()
    )
    # The walk really covered the layers (a broken walk would pass vacuously).
    assert "workbench.secrets.keyring_store" in report["imported"]
    assert "workbench.core.models" in report["imported"]
    assert report["qt"] == [], f"Qt was imported by a non-UI module: {report['qt']}"
