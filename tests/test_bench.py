"""Structure of `zoo bench`: FLOP formula, options, contenders, verdicts, JSON; no timings."""

import argparse
import json
import statistics
import sys
from pathlib import Path

import pytest

from zoo import bench

TINY = bench.ModelConfig("small", hidden=8, num_layers=2, unroll=3)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    return parser.parse_args(argv)


def fake_result(framework: str, cell: str, train: float, infer: float, rss: float) -> dict:
    return {
        "label": f"{framework}-{cell}",
        "framework": framework,
        "cell": cell,
        "jit_request": None if framework == "torch" else "auto",
        "train": {"median": train},
        "infer": {"median": infer},
        "memory": {"rss_peak_mib": rss},
    }


def test_flops_per_token_follow_the_documented_formula():
    small, medium = bench.CONFIGS["small"], bench.CONFIGS["medium"]
    assert bench.forward_flops_per_token("lstm", small) == 2 * 2 * 4 * 200 * 400 + 2 * 200 * 10_000
    assert bench.forward_flops_per_token("gru", small) == 2 * 2 * 3 * 200 * 400 + 2 * 200 * 10_000
    assert (
        bench.forward_flops_per_token("lstm", medium) == 2 * 2 * 4 * 650 * 1300 + 2 * 650 * 10_000
    )
    for cell in ("lstm", "gru"):
        assert bench.train_flops_per_token(cell, small) == 3 * bench.forward_flops_per_token(
            cell, small
        )
        gates = bench.GATES[cell]  # the folded model skips the first layer's input matmul
        assert (
            bench.folded_forward_flops_per_token(cell, medium)
            == bench.forward_flops_per_token(cell, medium) - 2 * gates * 650 * 650
        )
    shared = bench.ModelConfig("shared", hidden=8, num_layers=0, unroll=3)
    assert bench.folded_forward_flops_per_token("lstm", shared) == 2 * 8 * 10_000


def test_configs_are_the_ptb_small_and_medium_models():
    assert bench.CONFIGS["small"] == bench.ModelConfig("small", 200, 2, 20)
    assert bench.CONFIGS["medium"] == bench.ModelConfig("medium", 650, 2, 35)
    assert bench.BATCH_SIZE == 20 and bench.VOCAB_SIZE == 10_000


def test_all_six_contenders_are_listed():
    names = [contender.name for contender in bench.CONTENDERS]
    assert names == ["zoo-lstm", "zoo-gru", "keras-lstm", "keras-gru", "torch-lstm", "torch-gru"]
    assert {c.framework for c in bench.CONTENDERS} == {"zoo", "keras", "torch"}


def test_contenders_option_keeps_order_and_rejects_unknown_names(capsys):
    args = parse(["--contenders", "torch-gru,zoo-lstm"])
    assert [c.name for c in args.contenders] == ["torch-gru", "zoo-lstm"]
    with pytest.raises(SystemExit):
        parse(["--contenders", "zoo-lstm,nope"])
    assert "nope" in capsys.readouterr().err


def test_quick_and_defaults():
    args = parse(["--quick"])
    assert args.quick and args.config == "small" and args.jit_compile == "auto"
    assert args.repeats is None and args.steps is None and args.threads >= 1
    with pytest.raises(SystemExit):
        parse(["--jit-compile", "maybe"])
    with pytest.raises(SystemExit):
        parse(["--repeats", "0"])


def test_cli_has_the_bench_command():
    from zoo.cli import build_parser

    args = build_parser().parse_args(["bench", "--config", "medium", "--jit-compile", "both"])
    assert args._module == "zoo.bench" and args.config == "medium"


def test_jit_both_runs_each_keras_contender_twice_and_torch_once():
    contenders = parse(["--contenders", "zoo-lstm,keras-lstm,torch-lstm"]).contenders
    labels = [entry.label for entry in bench.plan_entries(contenders, "both")]
    assert labels == [
        "zoo-lstm.jit-on",
        "zoo-lstm.jit-off",
        "keras-lstm.jit-on",
        "keras-lstm.jit-off",
        "torch-lstm",
    ]


def test_summary_and_rotation():
    assert bench.summarize([3.0, 1.0, 2.0]) == {
        "median": 2.0,
        "min": 1.0,
        "max": 3.0,
        "samples": [3.0, 1.0, 2.0],
    }
    assert bench.rotated([1, 2, 3], 4) == [2, 3, 1]


def test_targets_use_ratios_of_medians():
    results = [
        fake_result("zoo", "lstm", train=1200, infer=1100, rss=500),
        fake_result("keras", "lstm", train=1000, infer=1000, rss=400),
        fake_result("torch", "lstm", train=1300, infer=900, rss=300),
        fake_result("zoo", "gru", train=100, infer=100, rss=100),
    ]
    verdicts = {(v["target"], v["zoo"]): v for v in bench.evaluate_targets(results, "small")}
    train_keras = verdicts[("train lstm zoo/keras >= 1.15", "zoo-lstm")]
    assert train_keras["ratio"] == pytest.approx(1.2) and train_keras["met"] is True
    infer_keras = verdicts[("infer lstm zoo/keras >= 1.15", "zoo-lstm")]
    assert infer_keras["met"] is False
    assert verdicts[("rss lstm zoo/keras <= 1.2", "zoo-lstm")]["met"] is False
    assert verdicts[("train lstm zoo/torch >= 1", "zoo-lstm")]["met"] is False
    assert verdicts[("train gru zoo/keras >= 1.15", "zoo-gru")]["met"] is None
    medium = bench.evaluate_targets(results, "medium")
    assert not any("torch" in v["target"] for v in medium)
    assert not any("folded" in v["target"] for v in medium)  # no folded results: no verdict


def test_folded_inference_is_compared_with_the_builtins_plain_inference():
    zoo = fake_result("zoo", "lstm", train=1200, infer=1100, rss=500)
    keras = fake_result("keras", "lstm", train=1000, infer=1000, rss=400)
    zoo["infer_folded"] = {"median": 1160.0, "samples": [1100.0, 1200.0, 1160.0]}
    keras["infer"]["samples"] = [1000.0, 1000.0, 1000.0]
    verdicts = {v["target"]: v for v in bench.evaluate_targets([zoo, keras], "medium")}
    folded = verdicts["infer (folded embedding) lstm zoo/keras >= 1.15"]
    assert folded["ratio"] == pytest.approx(1.16) and folded["met"] is True
    assert folded["per_round"]["median"] == pytest.approx(1.16)
    assert verdicts["infer lstm zoo/keras >= 1.15"]["met"] is False


def test_per_round_ratios_pair_the_samples_of_each_round():
    zoo = fake_result("zoo", "lstm", train=1100, infer=1000, rss=500)
    keras = fake_result("keras", "lstm", train=1000, infer=1000, rss=400)
    zoo["train"]["samples"] = [1100.0, 600.0, 1200.0, 1300.0, 1000.0]
    keras["train"]["samples"] = [1000.0, 500.0, 1000.0, 1300.0, 1250.0]
    per_round = bench.verdict(bench.TARGETS[0], zoo, keras)["per_round"]
    ratios = [1.1, 1.2, 1.2, 1.0, 0.8]  # round by round, not sorted series against each other
    assert per_round["median"] == pytest.approx(1.1) and per_round["rounds"] == 5
    q1, _, q3 = statistics.quantiles(ratios, n=4)
    assert (per_round["q1"], per_round["q3"]) == (pytest.approx(q1), pytest.approx(q3))
    line = bench.verdict_rows([bench.verdict(bench.TARGETS[0], zoo, keras)])[0]
    assert f"per round 1.10 [{q1:.2f}-{q3:.2f}]" in line
    # no samples (or series of different lengths) and peak RSS: no per-round ratios
    assert bench.paired_ratios(zoo, keras, "infer") is None
    assert bench.paired_ratios(zoo, keras, "rss") is None
    keras["train"]["samples"] = keras["train"]["samples"][:4]
    assert bench.paired_ratios(zoo, keras, "train") is None


def test_a_ratio_just_under_its_target_prints_with_the_digit_that_decides():
    zoo = fake_result("zoo", "lstm", train=1146, infer=1000, rss=500)
    keras = fake_result("keras", "lstm", train=1000, infer=1000, rss=400)
    line = bench.verdict_rows([bench.verdict(bench.TARGETS[0], zoo, keras)])[0]
    assert line.startswith("  NOT met  train lstm zoo/keras >= 1.15: 1.146 (")


def test_fraction_of_peak_is_flops_over_peak():
    entry = bench.Entry(bench.CONTENDERS_BY_NAME["keras-gru"], "auto")
    throughput = {mode: {"median": 1000.0} for mode in ("train", "infer")}
    result = bench.entry_result(entry, throughput, {}, {}, False, TINY, peak_gflops=1.0)
    flops = bench.flops_table(TINY)["gru"]
    assert result["fraction_of_peak"]["train"] == pytest.approx(1000 * flops["train"] / 1e9)
    assert result["fraction_of_peak"]["infer"] == pytest.approx(1000 * flops["forward"] / 1e9)


def test_failed_memory_worker_reports_its_error(monkeypatch):
    failing = [sys.executable, "-c", "raise SystemExit('worker broke')"]
    monkeypatch.setattr(bench, "worker_command", lambda *args: failing)
    entry = bench.Entry(bench.CONTENDERS_BY_NAME["keras-lstm"], "auto")
    assert bench.measure_memory_of(entry, TINY, 1, 1) == {"error": "worker broke"}


def test_no_runnable_contender_is_an_error(monkeypatch, capsys):
    monkeypatch.setattr(bench, "missing_reason", lambda contender: "not here")
    assert bench.run(parse(["--contenders", "keras-lstm"])) == 2
    assert "no contender can run" in capsys.readouterr().err


def test_an_unwritable_out_is_refused_before_measuring(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(bench, "machine_state", lambda: pytest.fail("measured before --out"))
    assert bench.run(parse(["--quick", "--out", str(tmp_path)])) == 2
    assert f"--out: expected a file path, got the folder '{tmp_path}'" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_an_existing_out_is_replaced_only_with_overwrite(monkeypatch, tmp_path, capsys):
    out = tmp_path / "bench.json"
    out.write_text('{"committed": true}')
    monkeypatch.setattr(bench, "machine_state", lambda: pytest.fail("measured before --out"))
    assert bench.run(parse(["--quick", "--out", str(out)])) == 2
    assert f"--out: {out} exists; pass --overwrite" in capsys.readouterr().err
    assert out.read_text() == '{"committed": true}'


def test_an_out_that_cannot_be_created_is_refused_before_measuring(monkeypatch, capsys):
    monkeypatch.setattr(bench, "machine_state", lambda: pytest.fail("measured before --out"))
    assert bench.run(parse(["--quick", "--out", "/proc/zoo-test/r.json"])) == 2
    assert "--out: /proc/zoo-test would be created in /proc, which is not writable" in (
        capsys.readouterr().err
    )


def keras_memory_in_process(real_measure):
    """measure_memory_of with Keras workers run in this process (TensorFlow is imported here
    already; a fresh subprocess would spend seconds importing it) and PyTorch ones for real."""

    def measure(entry, config, threads, steps, loss):
        if entry.contender.framework == "torch":
            return real_measure(entry, config, threads, steps, loss)
        payload = bench.worker_command(entry, config, threads, steps, loss)[-1]
        return bench.run_worker(json.loads(payload))

    return measure


def test_tiny_run_writes_the_json_report(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(bench.CONFIGS, "small", TINY)
    monkeypatch.setattr(
        bench, "measure_memory_of", keras_memory_in_process(bench.measure_memory_of)
    )
    out = tmp_path / "bench.json"
    argv = ["--contenders", "zoo-gru,keras-gru,torch-gru", "--jit-compile", "off"]
    argv += ["--loss", "keras"]
    argv += ["--repeats", "2", "--steps", "1", "--out", str(out)]
    assert bench.run(parse(argv)) == 0
    report = json.loads(out.read_text())
    assert set(report) == {
        "meta",
        "model",
        "flops_per_token",
        "matmul_gflops",
        "results",
        "skipped",
        "targets",
    }
    assert report["model"]["hidden"] == 8 and report["meta"]["repeats"] == 2
    assert report["meta"]["versions"]["tensorflow"] and report["meta"]["cpu_model"]
    assert report["meta"]["loss"] == bench.LOSSES["keras"]
    assert isinstance(report["meta"]["tensorflow_onednn"], bool)
    ran = {result["contender"] for result in report["results"]}
    assert ran | set(report["skipped"]) == {"zoo-gru", "keras-gru", "torch-gru"}
    assert {"zoo-gru", "keras-gru"} <= ran
    folded = {result["contender"] for result in report["results"] if "infer_folded" in result}
    assert folded == {"zoo-gru"}
    targets = {item["target"]: item for item in report["targets"]}
    assert targets["infer (folded embedding) gru zoo/keras >= 1.15"]["ratio"] > 0
    for result in report["results"]:
        assert len(result["train"]["samples"]) == 2 and result["infer"]["median"] > 0
        assert result["memory"]["rss_peak_mib"] >= result["memory"]["rss_after_import_mib"] > 0
        assert result["warmup"]["train_first_step_s"] > 0
        if result["framework"] == "torch":
            assert result["jit_compile"] is None
        else:
            assert result["jit_compile"] is False and result["jit_request"] == "off"
    printed = capsys.readouterr().out
    assert "keras-gru.jit-off" in printed and "targets" in printed
    assert "inference with the embedding folded (zoo.models.fold_embedding):" in printed
    assert f"loss of the Keras models: {bench.LOSSES['keras']}; TensorFlow oneDNN ops: " in printed
    assert not out.with_name(f".{out.name}.tmp").exists()


def checked_runner(name: str, config: bench.ModelConfig) -> bench.Runner:
    """The contender's runner (jit off for Keras), after a training step with a positive loss
    and an inference step with logits of the model's shape; skips when it cannot run here."""
    contender = bench.CONTENDERS_BY_NAME[name]
    reason = bench.missing_reason(contender)
    if reason:
        pytest.skip(reason)
    jit = "off" if contender.is_keras else None
    runner = bench.build_runner(bench.Entry(contender, jit), config)
    assert float(runner.train_step()) > 0
    assert tuple(runner.infer_step().shape) == (bench.BATCH_SIZE, config.unroll, bench.VOCAB_SIZE)
    return runner


@pytest.mark.parametrize("name", ["zoo-lstm", "zoo-gru"])
def test_zoo_contender_trains_and_infers(name):
    runner = checked_runner(name, TINY)
    assert runner.jit_compile is False
    shape = (bench.BATCH_SIZE, TINY.unroll, bench.VOCAB_SIZE)
    assert tuple(runner.folded_infer_step().shape) == shape
    assert list(runner.steps()) == ["train", "infer", "infer_folded"]
    entry = bench.Entry(bench.CONTENDERS_BY_NAME[name], "off")
    assert bench.build_runner(entry, TINY, fold=False).folded_infer_step is None


def test_keras_contenders_have_no_folded_model():
    runner = checked_runner("keras-lstm", TINY)
    assert runner.folded_infer_step is None and list(runner.steps()) == ["train", "infer"]


def test_load_warning_only_when_the_cores_were_busy_at_the_start():
    def meta(load: float) -> dict:
        return {"started": {"load_average_1_5_15": [load, 0, 0]}, "cpus_available": 2}

    assert bench.load_warning(meta(1.5)) == []
    assert "WARNING" in bench.load_warning(meta(4.0))[0]


@pytest.mark.parametrize("name", ["keras-lstm", "torch-lstm"])
def test_zero_layers_leave_the_shared_part_embedding_to_logits(name):
    """`benchmarks/time_breakdown.py` times the model without recurrent layers."""
    shared = bench.ModelConfig("shared", hidden=8, num_layers=0, unroll=3)
    checked_runner(name, shared)
    contender = bench.CONTENDERS_BY_NAME[name]
    layer_class = bench.resolve_impl(contender)
    if contender.is_keras:
        parameters = bench.build_keras_model(layer_class, shared, "off").count_params()
    else:
        model = bench.torch_language_model(layer_class, shared)
        parameters = sum(p.numel() for p in model.parameters())
    embedding, projection = bench.VOCAB_SIZE * 8, 8 * bench.VOCAB_SIZE + bench.VOCAB_SIZE
    assert parameters == embedding + projection


def test_loss_option_picks_the_keras_models_loss():
    import keras

    import zoo.losses

    assert parse([]).loss == "zoo"
    layer_class = bench.resolve_impl(bench.CONTENDERS_BY_NAME["keras-gru"])
    built = {name: bench.build_keras_model(layer_class, TINY, "off", name) for name in bench.LOSSES}
    assert isinstance(built["zoo"].loss, zoo.losses.SparseSoftmaxCrossEntropy)
    assert isinstance(built["keras"].loss, keras.losses.SparseCategoricalCrossentropy)
    assert built["keras"].loss.from_logits
    with pytest.raises(ValueError, match="argument `loss`"):
        bench.keras_loss("hinge")
    with pytest.raises(SystemExit):
        parse(["--loss", "hinge"])


def test_committed_reports_from_before_the_folded_row_still_print():
    """A report written before the folded model was measured (no `forward_folded` FLOPs, no
    `infer_folded` results) prints as before, without a folded line or target."""
    path = Path(__file__).parent.parent / "results" / "bench_medium_avx512.json"
    report = json.loads(path.read_text())
    assert "forward_folded" not in report["flops_per_token"]["lstm"]
    lines = bench.report_lines(report)
    assert any(
        line.startswith("FLOPs/token (matmuls): lstm fwd 26,520,000 train") for line in lines
    )
    assert not any("folded" in line for line in lines)
