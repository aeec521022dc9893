"""invoke bench's tables and arithmetic: kmod/bench's lines become figures,
figures become ratios to their baselines, and the results are written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pyharness.host import benchrun
from pyharness.model import bench, layout


def ring_case(name: str, method: str, setups: list[int], pages: int = 100) -> bench.Case:
    rows = [{"setup_ns": s, "teardown_ns": s // 2, "pages": pages} for s in setups]
    return bench.case_from_rows(
        "ring", name, method, {"pages": pages}, rows, units={"setup_ns": "ns", "teardown_ns": "ns"}
    )


def test_kmod_bench_lines_parse_into_rows() -> None:
    text = "setup_ns=120 teardown_ns=30 pages=2500\nerror=-12\n\n"
    assert bench.parse_lines(text) == [
        {"setup_ns": 120, "teardown_ns": 30, "pages": 2500},
        {"error": -12},
    ]


def test_a_case_keeps_every_repetition_and_the_errors() -> None:
    rows = bench.parse_lines("setup_ns=30\nsetup_ns=10\nerror=-12\nsetup_ns=20\n")
    case = bench.case_from_rows("ring", "x", "pages", {}, rows, units={"setup_ns": "ns"})
    figure = case.figures["setup_ns"]
    assert figure.reps == [30.0, 10.0, 20.0]
    assert (figure.median, figure.spread) == (20.0, 20.0)
    assert case.errors == [-12]
    assert bench.Case.from_json(json.loads(json.dumps(case.to_json()))) == case


def test_ring_ratios_are_to_the_seed_and_the_floor() -> None:
    cases = [
        ring_case("g", "ours", [100, 110, 90]),
        ring_case("g", "seed", [300, 310, 290]),
        ring_case("g", "floor", [80, 80, 80]),
    ]
    rows = {(r.what, r.figure): r for r in bench.ring_rows(cases)}
    assert rows[("g", "seed / ours (setup)")].value == pytest.approx(3.0)
    assert rows[("g", "ours / floor (setup)")].value == pytest.approx(1.25)
    assert rows[("g ours", "setup per page")].value == pytest.approx(1.0)


def test_a_method_that_failed_every_time_is_reported_as_failed() -> None:
    failed = bench.case_from_rows("ring", "g", "coherent", {}, [{"error": -12}], units={})
    rows = bench.ring_rows([ring_case("g", "ours", [100]), failed])
    assert any(r.what == "g coherent" and r.unit == "failed" for r in rows)


def test_himem_rows_compare_with_the_fewest_regions_and_the_other_kinds() -> None:
    def case(kind: str, live: int, ns: int) -> bench.Case:
        params = {"live": live, "pairs": 10}
        return bench.case_from_rows(
            "himem", f"{live} live", kind, params, [{"pairs_ns": ns}], units={"pairs_ns": "ns"}
        )

    cases = [
        case("allocator", 10, 1000),
        case("allocator", 100000, 1500),
        case("list", 100000, 9000),
    ]
    rows = {r.what: r for r in bench.himem_rows(cases)}
    assert rows["allocator, 100000 live"].value == 150
    assert rows["allocator, 100000 live"].ratio == pytest.approx(1.5)
    assert rows["list, 100000 live"].ratio == pytest.approx(1500 / 9000)


def test_fragmentation_is_a_share_of_free_memory() -> None:
    params = {"free_pages": 1000, "available_pages": 980, "held_pages": 1000}
    case = bench.case_from_rows(
        "fragmentation", "idle", "ours", params, [{"largest_bytes": 960 * 4096}],
        units={"largest_bytes": "bytes"},
    )  # fmt: skip
    of_free, of_available = bench.frag_rows([case])
    assert of_free.ratio == pytest.approx(0.96)
    assert of_available.ratio == pytest.approx(960 / 980)


def test_results_are_written_with_their_meta_a_table_and_plots(tmp_path: Path) -> None:
    cases = [
        ring_case("1000x9588 packed", "ours", [100]),
        ring_case("1000x9588 packed", "seed", [300]),
        ring_case("1000x9588 packed", "floor", [80]),
        bench.case_from_rows(
            "himem", "10 live", "allocator", {"live": 10, "pairs": 10}, [{"pairs_ns": 100}],
            units={"pairs_ns": "ns"},
        ),
    ]  # fmt: skip
    cases.append(bench.case_from_rows("ring", "1000x9588 packed", "coherent", {}, [{"error": -12}],
                                      units={"setup_ns": "ns"}))  # fmt: skip
    meta = {"kernel": "6.1.0-57-amd64", "accelerator": "tcg", "profile": "bench", "commit": "abc"}
    files = benchrun.write_results(tmp_path, meta, cases)

    def strict(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    data = json.loads(files["json"].read_text(), parse_constant=strict)  # a failed method: null
    assert {k: data[k] for k in meta} == meta
    assert data["cases"][0]["figures"]["setup_ns"]["reps"] == [100.0]
    table = files["markdown"].read_text()
    assert "commit abc" in table and "| 1000x9588 packed | seed / ours (setup) | 3.00 x |" in table
    for plot in ("ring plot", "himem plot"):
        assert files[plot].read_bytes().startswith(b"\x89PNG")


def test_the_ring_cases_are_the_seeds_and_others_up_to_256_mib() -> None:
    geometries = {(c.buffers, c.bufsize, c.tails) for c in bench.RING_CASES}
    for tails in ("packed", "own-page"):
        assert {(1000, 9588, tails), (10000, 1316, tails)} <= geometries
    others = {(b, s) for b, s, _ in geometries} - {(1000, 9588), (10000, 1316)}
    assert len(others) >= 3
    biggest = max(
        layout.layout(c.buffers, c.bufsize, c.tails).total_pages * 4096 for c in bench.RING_CASES
    )
    assert biggest == 256 << 20


def test_full_runs_more() -> None:
    assert bench.Options.from_args(["--full"]) == bench.Options(reps=10, full=True)
    assert len(bench.Options.from_args([]).ring_cases) < len(bench.RING_CASES_FULL)


def test_the_table_gives_ns_per_ring_the_spread_and_partial_failures() -> None:
    ours = ring_case("g", "ours", [100, 110, 90])
    ours.errors.append(-12)
    rows = {(r.what, r.figure): r for r in bench.ring_rows([ours, ring_case("g", "floor", [80])])}
    per_ring = rows[("g ours", "setup per ring (100 pages)")]
    assert per_ring.value == 100.0
    assert per_ring.spread == pytest.approx(0.2)
    assert "1 of 4 repetitions failed: ENOMEM" in per_ring.baseline
    assert "| 20% |" in bench.markdown({}, list(rows.values()))


def test_every_method_starts_a_round_in_turn() -> None:
    methods = bench.RING_METHODS
    firsts = {bench.turns(methods, rep)[0] for rep in range(len(methods))}
    assert firsts == set(methods)
    assert all(sorted(bench.turns(methods, rep)) == sorted(methods) for rep in range(7))


def test_descriptor_and_himem_rows_say_when_repetitions_failed() -> None:
    desc_rows = [{"ours_alloc_ns": 100, "ours_free_ns": 100, "pool_alloc_ns": 100,
                  "pool_free_ns": 100}, {"error": -12}]  # fmt: skip
    units = {k: "ns" for k in ("ours_alloc_ns", "ours_free_ns", "pool_alloc_ns", "pool_free_ns")}
    desc = bench.case_from_rows("descriptors", "10", "ours+pool", {"count": 10}, desc_rows,
                                units=units)  # fmt: skip
    himem_reps = [{"pairs_ns": 100}, {"error": -12}]
    himem = bench.case_from_rows("himem", "10 live", "allocator", {"live": 10, "pairs": 10},
                                 himem_reps, units={"pairs_ns": "ns"})  # fmt: skip
    for row in bench.desc_rows([desc]) + bench.himem_rows([himem]):
        assert "1 of 2 repetitions failed: ENOMEM" in row.baseline, row
