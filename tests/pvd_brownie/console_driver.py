"""One brownie console, driven by tests/pvd_brownie/test_console_doc.py: it loads the
project in the working folder, connects to the network named on the command line, builds
the namespace brownie's console builds (brownie's exports and the project's contract
containers), then runs each block of `>>>` examples it reads on stdin (one JSON string a
line) as a doctest in that one namespace, and answers with a line
`@@result@@ {"failed": n, "report": "..."}`.
"""

from __future__ import annotations

import doctest
import io
import json
import sys

import brownie
from brownie import network, project

MARK = "@@result@@ "


def main(network_id: str) -> None:
    loaded = project.load(".", name="Pvd")
    loaded.load_config()
    network.connect(network_id)
    namespace = {name: getattr(brownie, name) for name in brownie.__all__}
    loaded._update_and_register(namespace)
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    print(MARK + json.dumps({"failed": 0, "report": "ready"}), flush=True)
    for number, line in enumerate(sys.stdin):
        block = json.loads(line)
        test = parser.get_doctest(block, namespace, f"block {number}", "docs/console.md", 0)
        report = io.StringIO()
        result = runner.run(test, out=report.write, clear_globs=False)
        namespace.update(test.globs)  # a DocTest runs in a copy of the namespace
        answer = {"failed": result.failed, "report": report.getvalue()}
        print(MARK + json.dumps(answer), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
