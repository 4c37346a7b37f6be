"""The committed golden vectors (tests/pvd/protocol/golden/) are what the contracts compute now."""

import pytest

from scripts.golden_messages import GOLDEN, build_vectors, render


@pytest.fixture(scope="module")
def regenerated(codec, web3):
    return render(build_vectors(codec, web3))


@pytest.mark.parametrize("name", ["messages.json", "attestations.json"])
def test_the_committed_golden_file_matches_the_contracts(regenerated, name):
    assert (GOLDEN / name).read_text() == regenerated[name]
