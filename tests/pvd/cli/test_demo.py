"""`pvd demo` on the embedded chains: one trade paid by delivery, one refunded by expiry,
read back from the chains (the --json summary)."""

import json

from pvd.cli.main import main


def test_demo_json_reports_one_paid_and_one_refunded_trade(capsys):
    assert main(["demo", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    paid, refunded = summary["trades"]
    assert (paid["status"], paid["settlement"], paid["hold"]) == ("Delivered", "Paid", "Executed")
    assert (refunded["status"], refunded["settlement"], refunded["hold"]) == (
        "Expired",
        "Refunded",
        "Released",
    )
    assert paid["trade_id"] != refunded["trade_id"]
