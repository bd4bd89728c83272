"""Regenerate the configuration table in README.md from the config dataclasses."""
import pathlib
import re
import subprocess
import sys

root = pathlib.Path(__file__).resolve().parent.parent
table = subprocess.run([sys.executable, "-m", "floorsync.cli", "config", "--markdown"], cwd=root,
                       capture_output=True, text=True, check=True).stdout.strip()
readme = root / "README.md"
text = readme.read_text(encoding="utf-8")
new = re.sub(r"(<!-- config-table[^>]*-->\n).*?(<!-- /config-table -->)", lambda m: m.group(1) + table + "\n" + m.group(2),
             text, flags=re.S)
readme.write_text(new, encoding="utf-8")
print(f"{table.count(chr(10)) - 1} settings documented")
