"""scripts/bench_gas.py's comparisons: each pvd figure over its baseline, from one run."""

from __future__ import annotations

from scripts.bench_gas import compare


def test_a_comparison_sums_pvd_operations_and_divides_by_the_baseline():
    results = {
        "bridge": {
            "settlement_hold_and_announce_by_signature": 120_000,
            "settlement_deliver_delivered_outcome_2_of_3": 135_000,
        },
        "baselines": {"htlc_lock_plus_claim": 300_000, "htlc_lock": 200_000, "htlc_claim": 100_000},
        "token": {"transfer_uncapped": 60_000, "plain_erc20_transfer": 34_000},
    }
    out = compare(results)
    assert out["settlement_vs_htlc_lock_plus_claim"] == {
        "pvd": 255_000,
        "baseline": 300_000,
        "ratio": 0.85,
    }
    assert out["hold_and_announce_vs_htlc_lock"]["ratio"] == 0.6
    assert out["delivered_outcome_vs_htlc_claim"]["ratio"] == 1.35
    assert out["yuan_transfer_vs_erc20_transfer"]["ratio"] == round(60_000 / 34_000, 3)


def test_a_comparison_missing_a_figure_is_left_out():
    out = compare({"bridge": {"settlement_hold_and_announce_by_signature": 1}})
    assert out == {}
