"""Architecture: the core never imports streamlit; only matcher/ui does."""

from __future__ import annotations

import ast
import subprocess
import sys

from tests.conftest import ROOT


def test_core_modules_do_not_import_streamlit() -> None:
    offenders = []
    for path in (ROOT / "matcher").rglob("*.py"):
        if "ui" in path.relative_to(ROOT / "matcher").parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(name.split(".")[0] == "streamlit" for name in names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders


def test_importing_and_ranking_loads_no_streamlit() -> None:
    code = (
        "import sys, matcher, matcher.__main__\n"
        "d = matcher.load_directory('data/therapists.csv')\n"
        "matcher.rank(d, matcher.load_preferences('data/example_preferences.json'))\n"
        "assert 'streamlit' not in sys.modules, 'streamlit was imported'\n"
    )
    run_fresh(code)


def test_the_launcher_starts_without_the_engine_and_the_package_names_still_work() -> None:
    code = (
        "import sys, matcher.serve\n"
        "assert 'pandas' not in sys.modules and 'numpy' not in sys.modules, 'engine loaded'\n"
        "import matcher\n"
        "assert set(matcher.__all__) <= set(dir(matcher))\n"
        "from matcher import Directory, rank\n"
        "assert rank.__module__ == 'matcher.scoring' and Directory.__name__ == 'Directory'\n"
        "try:\n"
        "    matcher.nonexistent\n"
        "except AttributeError:\n"
        "    pass\n"
        "else:\n"
        "    raise AssertionError('an unknown name was found')\n"
    )
    run_fresh(code)


def run_fresh(code: str) -> None:
    """Run ``code`` in a fresh interpreter (nothing imported yet) and require it to pass."""
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_raw_html_and_scripts_come_only_from_our_constants() -> None:
    """Everything from a file or a user is rendered as text: no unsafe_allow_html anywhere, and
    st.html only ever receives a string literal named at module level in the app's code (or
    one formatted with a number)."""
    paths = [ROOT / "app.py", *(ROOT / "matcher" / "ui").rglob("*.py")]
    trees = {path: ast.parse(path.read_text(encoding="utf-8")) for path in paths}
    constants = {  # NAME = "a literal" (adjacent literals are one), in any of those modules
        target.id
        for tree in trees.values()
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    offenders = []
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "unsafe_allow_html":
                offenders.append(f"{path.relative_to(ROOT)}:{node.value.lineno} unsafe_allow_html")
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "html"):  # fmt: skip
                continue
            [given] = node.args
            if isinstance(given, ast.Call) and isinstance(given.func, ast.Attribute):
                formatted = given.func.attr == "format" and isinstance(given.func.value, ast.Name)
                numbers = [
                    isinstance(a, ast.Call) and ast.unparse(a.func) == "int" for a in given.args
                ]
                if formatted and all(numbers):
                    given = given.func.value  # _TO_TOP.format(int(count)): a number, no text
            if not (isinstance(given, ast.Name) and given.id in constants):
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                offenders.append(f"{where} st.html({ast.unparse(given)})")
    assert offenders == []


def test_the_app_starts_without_reaching_beyond_the_machine() -> None:
    """`make run` started Streamlit headless on every interface, and Streamlit then asked a web
    service for the machine's public address to print it ("Did not auto detect external IP"
    where there is no network). The project's config binds the loopback address instead."""
    import time

    from tests.browsing import free_port

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    banner = []
    try:
        assert server.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = server.stdout.readline()
            banner.append(line)
            if "URL:" in line or not line:
                break
        time.sleep(2)  # anything printed after the address would come now
    finally:
        server.terminate()
        rest, _ = server.communicate(timeout=30)
    printed = "".join(banner) + rest
    assert f"URL: http://127.0.0.1:{port}" in printed, printed
    assert "External URL" not in printed and "external IP" not in printed, printed
