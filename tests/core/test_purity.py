"""app/core stays pure: standard library only (STYLE habit 1)."""

import ast
import pathlib
import sys

CORE = pathlib.Path(__file__).resolve().parents[2] / "app" / "core"


def test_core_imports_only_the_standard_library():
    stdlib = set(sys.stdlib_module_names)
    offenders = []
    for path in CORE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative import inside app.core
                    if node.level > 1 or (node.module or "").split(".")[0] in {"models", "services"}:
                        offenders.append(f"{path.name}: from {'.' * node.level}{node.module}")
                    continue
                names = [node.module or ""]
            else:
                continue
            for name in names:
                if name.split(".")[0] not in stdlib:
                    offenders.append(f"{path.name}: {name}")
    assert offenders == [], f"app/core must import only the standard library: {offenders}"
