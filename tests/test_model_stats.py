"""Gradient norm before clipping, parameter norm, histograms and GPU memory rows."""
import json
import math
import os
import sys

import pytest
import torch

import tiny_env
from hsi_wandb.builtin import registry
from hsi_wandb import model_stats
from hsi_wandb.model_stats import CHUNK, GradNormTracker, TotalNorm, gpu_memory, histogram_data
from hsi_wandb.adapter import apply_to_runner
from conftest import builtin_rl_config, needs_builtin_runner, train_builtin
from offline_run import OfflineRun, offline_runs
from tiny_env import train

WANDB_OFFLINE = {"use_wandb": True, "wandb": {"project": "hsi-wandb-tests", "mode": "offline"}}


@pytest.fixture(autouse=True)
def trackers_closed():
    """A test that fails before it closes its tracker leaves no one watching ``clip_grad_norm_`` for the next."""
    yield
    for tracker in list(model_stats._CLIP_WATCH._trackers):
        tracker.close()


@pytest.fixture(params=["foreach", "flat"])
def norm_path(request, monkeypatch):
    """Each way the norms are computed: ``torch._foreach_norm`` (torch 1.13 on), and the flat buffer of older torch."""
    if request.param == "foreach" and not hasattr(torch, "_foreach_norm"):
        pytest.skip("this torch has no _foreach_norm")
    monkeypatch.setattr(TotalNorm, "fused", request.param == "foreach")
    return request.param


def test_grad_norm_is_measured_before_clipping(norm_path):
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


def test_grad_norm_is_that_of_the_gradient_the_step_uses(norm_path):
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


def float64_norm(tensors):
    """The reference: the 2-norm of all ``tensors`` together, summed in float64."""
    return float(sum(t.detach().double().pow(2).sum() for t in tensors).sqrt())


def test_total_norm_keeps_its_precision_at_tens_of_millions_of_elements_and_across_dtypes(norm_path):
    """A float32 sum over 20 M elements in one reduction loses digits (2 % at 150 M measured); the norms do not. A
    half-precision parameter is normed in float32, beside float32 ones in the same optimizer."""
    torch.manual_seed(2)
    params = [torch.nn.Parameter(torch.randn(500000 + i) + 3) for i in range(40)]
    params += [torch.nn.Parameter(torch.randn(33, 5)), torch.nn.Parameter((torch.randn(300) * 200).half())]
    for p in params:
        p.grad = (torch.randn(p.shape) * 1e-3).to(p.dtype)
    norms = TotalNorm(params)
    assert float(norms.of_params()) == pytest.approx(float64_norm(params), rel=1e-5)
    assert float(norms.of_grads()) == pytest.approx(float64_norm([p.grad for p in params]), rel=1e-5)
    assert norms.of_params().dtype == torch.float32
    for group in (params, params[:-1]):  # two dtypes: the norm itself; float32 only: its per-tensor parts (foreach)
        parts = TotalNorm(group).parts_of_params()
        assert math.sqrt(sum(float(part) ** 2 for part in parts)) == pytest.approx(float64_norm(group), rel=1e-5)


def test_total_norm_of_fewer_gradients_than_last_time(norm_path):
    """A parameter that had a gradient and has none now adds nothing (its part of a flat buffer is cleared)."""
    params = [torch.nn.Parameter(torch.ones(5)), torch.nn.Parameter(torch.ones(CHUNK + 3))]
    norms = TotalNorm(params)
    assert norms.of_grads() is None
    for p in params:
        p.grad = torch.full_like(p, 2.0)
    assert float(norms.of_grads()) == pytest.approx(2 * (CHUNK + 8) ** 0.5, rel=1e-6)
    params[1].grad = None
    assert float(norms.of_grads()) == pytest.approx(2 * 5 ** 0.5, rel=1e-6)
    params[0].grad, params[1].grad = None, torch.ones(CHUNK + 3)
    assert float(norms.of_grads()) == pytest.approx((CHUNK + 3) ** 0.5, rel=1e-6)


HOST_TRANSFERS = ("item", "tolist", "__float__", "__int__", "__bool__", "__index__", "cpu", "numpy", "__array__")
MODEL_STATS = os.path.abspath(model_stats.__file__)
TORCH = os.path.dirname(os.path.abspath(torch.__file__))
TRAINERS_OWN = (os.path.join(TORCH, "optim"), os.path.join(TORCH, "nn", "utils", "clip_grad"))
"""The optimizer's step and the clip (torch 1.8's reads its clip coefficient to the host): the trainer's own work,
reached through the tracker's wrappers, made with or without them."""


@pytest.fixture
def transfers(monkeypatch):
    """The device-to-host transfers the gradient-norm code makes: every way a tensor's value reaches Python or the
    host (``.item()``, ``float()``, ``.tolist()``, ``.cpu()``, ...), wrapped on ``torch.Tensor``, counted when the
    code outside torch that asked for it is hsi_wandb's model_stats (not an optimizer's own step or a clip it
    wraps)."""
    made = []

    def ours():
        frame = sys._getframe(2)
        while frame is not None:
            path = os.path.abspath(frame.f_code.co_filename)
            if path.startswith(TRAINERS_OWN):
                return False
            if not path.startswith(TORCH):
                return path == MODEL_STATS
            frame = frame.f_back
        return False

    def counting(name, method):
        def transfer(self, *args, **kwargs):
            if ours():
                made.append(name)
            return method(self, *args, **kwargs)
        return transfer

    for name in HOST_TRANSFERS:
        if hasattr(torch.Tensor, name):
            monkeypatch.setattr(torch.Tensor, name, counting(name, getattr(torch.Tensor, name)))
    return made


def grad_scaler(kind):
    """None, rl_games' GradScaler with mixed precision off, or a real enabled one on the CPU (torch 2.3 on)."""
    if kind == "none":
        return None
    if kind == "disabled":
        return torch.cuda.amp.GradScaler(enabled=False)
    scaler_class = getattr(getattr(torch, "amp", None), "GradScaler", None)
    try:
        scaler = scaler_class("cpu", init_scale=1024.0)
    except Exception:  # no GradScaler (torch < 2.3), or none for the CPU
        pytest.skip("this torch has no GradScaler for the CPU")
    if not scaler.is_enabled():
        pytest.skip("this torch has no GradScaler for the CPU")
    return scaler


def clipped_step(model, optimizer, scaler, loss, max_norm):
    """One step as rl_games' agents take it: through ``scaler`` (unscaled before clipping) when there is one;
    returns the norm ``clip_grad_norm_`` measured."""
    optimizer.zero_grad()
    if scaler is None:
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        optimizer.step()
        return norm
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    scaler.step(optimizer)
    scaler.update()
    return norm


@pytest.mark.parametrize("scaler_kind", ["none", "disabled", "enabled"])
def test_one_device_to_host_transfer_per_epoch(norm_path, transfers, scaler_kind):
    """Steps transfer nothing to the host; an epoch's figures come in one transfer. On CUDA a transfer is a
    synchronisation, so this holds there by construction. With mixed precision the norm is taken on the unscaled
    gradients (``GradScaler.get_scale()`` would read the scale to the host at every step)."""
    scaler = grad_scaler(scaler_kind)
    torch.manual_seed(3)
    model = torch.nn.Sequential(torch.nn.Linear(6, 32), torch.nn.Tanh(), torch.nn.Linear(32, 2))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    tracker = GradNormTracker(optimizer, scaler)
    expected = []
    for epoch in range(3):
        clipped = [clipped_step(model, optimizer, scaler, model(torch.randn(64, 6)).pow(2).mean(), 0.1)
                   for _ in range(4)]
        assert transfers == [] if epoch == 0 else len(transfers) == epoch
        values = tracker.epoch_values()
        assert len(transfers) == epoch + 1, transfers
        expected.append(float(sum(clipped) / len(clipped)))
        assert values["info/grad_norm"] == pytest.approx(expected[-1], rel=1e-5)
    tracker.close()


@pytest.mark.parametrize("scaler_kind", ["disabled", "enabled"])
def test_a_trainer_that_unscales_before_clipping_runs_nothing_of_ours_in_backward(norm_path, scaler_kind):
    """Once the trainer's scaler unscales this optimizer, the gradient hooks are gone and the norm is taken in
    ``unscale_``; ``unscale_`` of another optimizer measures nothing; ``close`` gives both their methods back."""
    scaler = grad_scaler(scaler_kind)
    torch.manual_seed(4)
    model, other = torch.nn.Linear(5, 3), torch.nn.Linear(5, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    other_optimizer = torch.optim.SGD(other.parameters(), lr=0.1)
    tracker = GradNormTracker(optimizer, scaler)
    assert all(p._backward_hooks for p in model.parameters())
    norms = []
    for _ in range(3):
        norms.append(float(clipped_step(model, optimizer, scaler, (model(torch.randn(8, 5)) * 50).pow(2).mean(), 1.0)))
        assert not any(p._backward_hooks for p in model.parameters())
        other_optimizer.zero_grad()
        scaler.scale(other(torch.randn(8, 5)).pow(2).sum() * 1e4).backward()
        scaler.unscale_(other_optimizer)
        scaler.step(other_optimizer)
        scaler.update()
    assert min(norms) > 1.0, "the clip really cut the gradients"
    assert tracker.epoch_values()["info/grad_norm"] == pytest.approx(sum(norms) / 3, rel=1e-5)
    tracker.close()
    assert "step" not in vars(optimizer) and "unscale_" not in vars(scaler)


def test_a_step_the_scaler_skips_records_no_norm(norm_path):
    """An enabled scaler skips the step of infinite gradients (and lowers its scale): that step has no norm."""
    scaler = grad_scaler("enabled")
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    tracker = GradNormTracker(optimizer, scaler)
    finite = float(clipped_step(model, optimizer, scaler, model(torch.ones(4, 2)).sum(), 1e6))
    clipped_step(model, optimizer, scaler, model(torch.ones(4, 2)).sum() * float("inf"), 1e6)
    assert tracker.epoch_values()["info/grad_norm"] == pytest.approx(finite, rel=1e-5)
    tracker.close()


@pytest.fixture
def own_norms(monkeypatch):
    """Each gradient norm the tracker computes itself (not the one the trainer's clip returns to it)."""
    taken = []
    of_grads = TotalNorm.of_grads

    def counted(self):
        taken.append(1)
        return of_grads(self)

    monkeypatch.setattr(TotalNorm, "of_grads", counted)
    return taken


IMPORTED_CLIP = torch.nn.utils.clip_grad_norm_
"""``clip_grad_norm_`` as code that imported it by name before training holds it: the tracker never sees it."""

CLIP_SEQUENCES = {
    "the agent's clip": (["all"] * 4, 1),
    "a clip of other parameters": (["subset"] * 4, 4),
    "an infinity-norm clip": (["inf"] * 4, 4),
    "a clip imported by name": (["imported"] * 4, 4),
    "no clip": (["none"] * 4, 4),
    "mixed": (["all", "all", "none", "subset", "all", "all"], 4),
}
"""The steps of each trainer's epoch, and how many of them get a norm computed by the tracker (besides the first
backward pass's, taken by the hooks before the tracker has seen the trainer unscale)."""


@pytest.mark.parametrize("sequence", CLIP_SEQUENCES.values(), ids=list(CLIP_SEQUENCES))
def test_the_norm_the_trainer_clips_with_is_the_recorded_one_and_any_other_clip_gets_its_own(norm_path, own_norms,
                                                                                              sequence):
    """Stepping as rl_games does (scaler, ``unscale_``, clip, step): once the tracker has seen a 2-norm clip of
    every parameter the optimizer steps, the norm that clip returns is recorded and the tracker computes none; a
    step without that clip (none, another clip, one it cannot see) gets the tracker's own norm of the gradients
    before clipping. The recorded figure is the same either way: the mean over the steps of the norm before any
    clip, against a float64 reference."""
    clips, computed = sequence
    scaler = grad_scaler("disabled")
    torch.manual_seed(5)
    model = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    tracker = GradNormTracker(optimizer, scaler)
    clip = {"all": lambda: torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5),
            "subset": lambda: torch.nn.utils.clip_grad_norm_(model[0].parameters(), 0.5),
            "inf": lambda: torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5, norm_type=float("inf")),
            "imported": lambda: IMPORTED_CLIP(model.parameters(), 0.5),
            "none": lambda: None}
    before = []
    for kind in clips:
        optimizer.zero_grad()
        scaler.scale((model(torch.randn(32, 5)) * 30).pow(2).mean()).backward()
        scaler.unscale_(optimizer)
        before.append(float64_norm([p.grad for p in model.parameters()]))
        clip[kind]()
        scaler.step(optimizer)
        scaler.update()
    assert min(before) > 0.5, "a clip would cut these gradients"
    assert tracker.epoch_values()["info/grad_norm"] == pytest.approx(sum(before) / len(before), rel=1e-5)
    assert len(own_norms) == 1 + computed
    tracker.close()
    assert torch.nn.utils.clip_grad_norm_ is IMPORTED_CLIP


def test_clip_grad_norm_is_given_back_when_the_last_tracker_closes_and_a_later_wrapper_is_kept(monkeypatch):
    """Two trackers share one watch on ``clip_grad_norm_`` (torch's own function underneath, its name and result
    unchanged); the last to close gives torch's back, unless something wrapped it since: that stays, and works."""
    scaler = grad_scaler("disabled")
    models = [torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)]
    trackers = [GradNormTracker(torch.optim.SGD(m.parameters(), lr=0.1), scaler) for m in models]
    watched = torch.nn.utils.clip_grad_norm_
    assert watched is not IMPORTED_CLIP and watched.__wrapped__ is IMPORTED_CLIP
    assert watched.__name__ == "clip_grad_norm_"
    models[0](torch.ones(1, 3)).sum().backward()
    assert float(watched(models[0].parameters(), 1e6)) == pytest.approx(float64_norm(
        [p.grad for p in models[0].parameters()]), rel=1e-6)
    trackers[0].close()
    assert torch.nn.utils.clip_grad_norm_ is watched
    trackers[1].close()
    assert torch.nn.utils.clip_grad_norm_ is IMPORTED_CLIP

    tracker = GradNormTracker(torch.optim.SGD(models[1].parameters(), lr=0.1), scaler)
    later = []
    underneath = torch.nn.utils.clip_grad_norm_

    def wrapper(*args, **kwargs):
        later.append(1)
        return underneath(*args, **kwargs)

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", wrapper)
    tracker.close()
    assert torch.nn.utils.clip_grad_norm_ is wrapper
    assert float(torch.nn.utils.clip_grad_norm_(models[0].parameters(), 1e6)) > 0 and later == [1]


@pytest.mark.slow
@needs_builtin_runner
def test_grad_norm_of_the_built_in_amp_agent_is_the_norm_it_clips(tmp_path, monkeypatch, own_norms):
    """The AMP agent clips its policy and its discriminator (two parameter groups of one optimizer) together: the
    row's ``info/grad_norm`` is the mean of the norms ``clip_grad_norm_`` returned to it in that epoch, and hsi_wandb
    computed norms of its own on the first step only (in the hooks at the end of its backward pass, then after
    ``unscale_``; its clip, seen then, gives every later step's)."""
    clipped = []
    clip = torch.nn.utils.clip_grad_norm_

    def recording_clip(parameters, *args, **kwargs):
        norm = clip(parameters, *args, **kwargs)
        clipped.append(float(norm))
        return norm

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", recording_clip)
    config = builtin_rl_config(tmp_path, epochs=2, num_envs=64)
    config["params"]["config"].update(mini_epochs=2, minibatch_size=512)
    runner = registry.build_runner()
    apply_to_runner(runner, dict(WANDB_OFFLINE, params=config["params"]), source="amp.yaml")
    exp_dir = train_builtin(config, runner)
    rows = [json.loads(line) for line in open(os.path.join(exp_dir, "metrics.jsonl"))]
    steps = len(clipped) // len(rows)
    assert steps * len(rows) == len(clipped) and steps >= 2
    for i, row in enumerate(rows):
        assert row["info/grad_norm"] == pytest.approx(sum(clipped[i * steps:(i + 1) * steps]) / steps, rel=1e-5)
    assert len(own_norms) == 2


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


@pytest.mark.slow
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


@pytest.mark.slow
def test_histograms_are_off_by_default(tiny_run):
    assert "histograms" not in tiny_run.cfg["wandb"]
    rows = tiny_run.run.history
    assert rows and not any(k.startswith(("parameters/", "gradients/")) for r in rows for k in r)
    assert os.path.exists(tiny_run.exp_dir / "metrics.jsonl")
