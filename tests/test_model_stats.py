"""Gradient norm before clipping, parameter norm, histograms and GPU memory rows."""
import json
import os

import pytest
import torch

import tiny_env
from hsi_wandb.builtin import registry
from hsi_wandb.model_stats import GradNormTracker, gpu_memory, histogram_data
from hsi_wandb.rl_games_mixin import apply_to_runner
from conftest import needs_builtin_runner
from offline_run import OfflineRun, offline_runs
from test_builtin_amp import rl_config, train as train_builtin
from test_rl_games_adapter import train

WANDB_OFFLINE = {"use_wandb": True, "wandb": {"project": "hsi-wandb-tests", "mode": "offline"}}


def test_grad_norm_is_measured_before_clipping():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    tracker = GradNormTracker(optimizer)
    expected = []
    for _ in range(3):
        optimizer.zero_grad()
        (model(torch.randn(16, 4)) * 100).pow(2).mean().backward()
        expected.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)))
        optimizer.step()
    values = tracker.epoch_values()
    assert min(expected) > 0.5, "the clip really cut the gradients"
    assert values["info/grad_norm"] == pytest.approx(sum(expected) / 3, rel=1e-5)
    manual = torch.sqrt(sum(p.detach().pow(2).sum() for p in model.parameters()))
    assert values["info/param_norm"] == pytest.approx(float(manual), rel=1e-6)
    assert "info/grad_norm" not in tracker.epoch_values(), "each epoch starts afresh"
    tracker.close()
    assert "step" not in vars(optimizer)


def test_grad_norm_is_that_of_the_gradient_the_step_uses():
    """Two backward passes before one step (accumulation), a parameter with no gradient, a failed backward."""
    torch.manual_seed(1)
    used, unused = torch.nn.Linear(4, 3), torch.nn.Linear(4, 3)
    model = torch.nn.ModuleList([used, unused])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    tracker = GradNormTracker(optimizer)

    def fail(grad):
        raise RuntimeError("a backward pass that fails after the tracker's hook ran")

    failing = used.bias.register_hook(fail)
    with pytest.raises(RuntimeError, match="fails after"):
        used(torch.randn(2, 4)).sum().backward()
    failing.remove()
    optimizer.zero_grad()
    used(torch.randn(8, 4)).pow(2).sum().backward()
    used(torch.randn(8, 4)).pow(2).sum().backward()
    expected = float(torch.nn.utils.clip_grad_norm_(model.parameters(), 0.01))
    optimizer.step()
    optimizer.zero_grad()
    used(torch.randn(8, 4)).sum().backward()
    second = float(torch.nn.utils.clip_grad_norm_(model.parameters(), 1e6))
    optimizer.step()
    assert unused.weight.grad is None
    assert tracker.epoch_values()["info/grad_norm"] == pytest.approx((expected + second) / 2, rel=1e-5)
    tracker.close()


@pytest.mark.slow
@needs_builtin_runner
def test_grad_norm_of_the_built_in_amp_agent_is_the_norm_it_clips(tmp_path, monkeypatch):
    """The AMP agent clips its policy and its discriminator (two parameter groups of one optimizer) together: the
    row's ``info/grad_norm`` is the mean of the norms ``clip_grad_norm_`` returned to it in that epoch."""
    clipped = []
    clip = torch.nn.utils.clip_grad_norm_

    def recording_clip(parameters, *args, **kwargs):
        norm = clip(parameters, *args, **kwargs)
        clipped.append(float(norm))
        return norm

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", recording_clip)
    config = rl_config(tmp_path, epochs=2, num_envs=64)
    config["params"]["config"].update(mini_epochs=2, minibatch_size=512)
    runner = registry.build_runner()
    apply_to_runner(runner, dict(WANDB_OFFLINE, params=config["params"]), source="amp.yaml")
    exp_dir = train_builtin(config, runner)
    rows = [json.loads(line) for line in open(os.path.join(exp_dir, "metrics.jsonl"))]
    steps = len(clipped) // len(rows)
    assert steps * len(rows) == len(clipped) and steps >= 2
    for i, row in enumerate(rows):
        assert row["info/grad_norm"] == pytest.approx(sum(clipped[i * steps:(i + 1) * steps]) / steps, rel=1e-5)


def test_histogram_data_and_cpu_has_no_gpu_rows():
    model = torch.nn.Linear(3, 2)
    model(torch.ones(1, 3)).sum().backward()
    data = histogram_data(model, "all")
    assert set(data) == {"parameters/weight", "parameters/bias", "gradients/weight", "gradients/bias"}
    assert set(histogram_data(model, "parameters")) == {"parameters/weight", "parameters/bias"}
    assert gpu_memory("cpu") == {}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_gpu_memory_rows_on_cuda():
    x = torch.ones(1024, 1024, device="cuda")
    values = gpu_memory("cuda:0")
    assert values["system/gpu_memory_allocated_gb"] >= x.numel() * 4 / (1 << 30)
    assert set(values) == {"system/gpu_memory_allocated_gb", "system/gpu_memory_reserved_gb",
                           "system/gpu_memory_peak_gb"}


def test_norms_every_epoch_and_opt_in_histograms_reach_the_run(tmp_path):
    cfg = tiny_env.train_config(tmp_path / "runs", max_epochs=3)
    cfg["wandb"].update(histograms="all", histogram_freq=2)
    train(tmp_path, cfg)
    rows = OfflineRun(offline_runs(tmp_path / "runs")[0]).history
    scalar_rows = [r for r in rows if "losses/a_loss" in r]
    assert all(r["info/grad_norm"] > 0 and r["info/param_norm"] > 0 for r in scalar_rows)
    histogram_rows = [r for r in rows if any(k.startswith("parameters/") for k in r)]
    epochs = [r["epoch"] for r in scalar_rows]
    assert [r["epoch"] for r in histogram_rows] == [e for e in epochs if e % 2 == 0] and len(histogram_rows) >= 1
    for histogram_row in histogram_rows:
        position = rows.index(histogram_row)
        own_epoch = rows[position - 1]
        assert own_epoch["epoch"] == histogram_row["epoch"] and own_epoch["frame"] == histogram_row["frame"]
    frames = [r["frame"] for r in rows]
    assert frames == sorted(frames), "frame never goes backwards"
    assert any(k.startswith("gradients/") and k.endswith("._type") for k in histogram_rows[0])
    assert not any(k.startswith("parameters/") for r in scalar_rows for k in r), "off the scalar rows"


def test_histograms_are_off_by_default(tmp_path):
    train(tmp_path, max_epochs=2)
    rows = OfflineRun(offline_runs(tmp_path / "runs")[0]).history
    assert not any(k.startswith(("parameters/", "gradients/")) for r in rows for k in r)
    assert os.path.exists(tmp_path / "runs" / "point" / "metrics.jsonl")
