"""Where a run's processes go: the generator and the server on disjoint cores."""

from __future__ import annotations

import pytest

from loadgen import cpus
from loadgen.errors import LoadgenError
from loadgen.measure.runner import Placement


def test_the_generator_takes_the_last_cores_and_the_server_the_rest() -> None:
    placement = Placement.apart()
    assert (placement.server, placement.generator) == cpus.split()
    assert placement.cluster is None
    assert placement.cores_text == (f"server on core(s) {cpus.format_cores(cpus.split()[0])}, "
                                    f"loadgen on {cpus.format_cores(cpus.split()[1])}")


def test_a_cpu_list_is_the_generators_and_the_server_gets_every_other_core() -> None:
    first = cpus.available()[0]
    placement = Placement.apart(cpu_list=str(first), cluster="tcp://scheduler:8786")
    assert placement.generator == (first,)
    assert placement.server == (tuple(c for c in cpus.available() if c != first) or (first,))
    assert placement.cluster == "tcp://scheduler:8786"


def test_a_cpu_list_of_cores_not_here_is_refused() -> None:
    with pytest.raises(LoadgenError, match="not available here"):
        Placement.apart(cpu_list="9999")
