"""Per-epoch model statistics for the mirror: gradient norm before clipping, parameter norm, histogram data."""
import functools
import math
from typing import Any, Callable, Dict, List, Optional, Tuple

CHUNK = 1 << 16
"""Elements per partial norm of a flat buffer: float32 sums over a few tens of millions of elements in one
reduction lose digits, partial norms of this size keep the precision of per-tensor norms."""


class GradNormTracker:
    """Measures the total gradient norm of every optimizer step before any clipping, averaged per epoch, over the
    parameters ``optimizer`` steps: what rl_games' agents clip (the policy's, and for AMP agents built as the
    built-in one is, the discriminator's in another parameter group of the same optimizer).

    Trainers that clip as PyTorch's mixed-precision recipe says (``scaler.unscale_(optimizer)``, clip,
    ``scaler.step(optimizer)``; with the scaler enabled or not), as rl_games' and ASE's agents do, have the norm
    taken after the ``unscale_`` of their ``scaler``, on the unscaled gradients before clipping: nothing of ours runs
    inside the backward pass. When the clip that follows is ``torch.nn.utils.clip_grad_norm_`` (2-norm) over exactly
    these parameters, the norm it returns to the trainer is the one recorded, so the norm is computed once per step,
    by the trainer, as without hsi_wandb (the first step checks this: the tracker takes the norm itself in
    ``unscale_`` until it has seen such a clip, and again on any step whose clip it does not see). An enabled
    scaler's ``step`` unscales itself when the trainer did not.

    Until ``unscale_`` is seen for this optimizer, and for trainers that never call it, a hook on each parameter's
    gradient queues a callback for the end of the backward pass, and the first callback reads the finished
    gradients (clipping comes after backward returns); the first ``unscale_`` removes the hooks. No gradient is
    referenced while autograd accumulates it (that would make autograd copy it), and the hooks do no tensor work.
    A backward pass that fails drops its callbacks, so every pass queues its own. The wrapper on this optimizer
    instance's ``step`` records the step's norm (a step the scaler skips for infinite gradients records none).

    The norms stay on the parameters' device: the steps add no host-device synchronisation, and
    :meth:`epoch_values` reads the epoch's figures with one transfer.
    """

    def __init__(self, optimizer: Any, scaler: Any = None):
        from torch.autograd import Variable

        unique = {id(p): p for group in optimizer.param_groups for p in group["params"] if p.requires_grad}
        self._params = list(unique.values())
        self._norm = TotalNorm(self._params)
        self._queue_callback = Variable._execution_engine.queue_callback
        self._callback = self._measure
        self._armed = False
        self._last: Any = None
        self._unscaled = False
        self._clip_reused = False
        self._clip_ids: Optional[Tuple[int, ...]] = None
        self._norms: List[Any] = []
        self._handles = [p.register_hook(self._arm) for p in self._params]
        self._optimizer = optimizer
        self._original_step = optimizer.step
        self._restore = [_replace_method(optimizer, "step", self._step)]
        if scaler is not None and callable(getattr(scaler, "unscale_", None)):
            self._original_unscale = scaler.unscale_
            self._restore.append(_replace_method(scaler, "unscale_", self._unscale))
            self._restore.append(_CLIP_WATCH.add(self))

    def _arm(self, grad: Any) -> None:
        self._armed = True
        self._queue_callback(self._callback)

    def _measure(self) -> None:
        if not self._armed:
            return
        self._armed = False
        self._last = self._norm.of_grads()

    def _unscale(self, optimizer: Any) -> None:
        self._original_unscale(optimizer)
        if optimizer is self._optimizer:
            self._remove_hooks()
            self._unscaled = True
            if not self._clip_reused:
                self._last = self._norm.of_grads()

    def _before_clip(self, params: List[Any], norm_type: Any) -> bool:
        """A ``clip_grad_norm_`` call: True when it comes after this step's ``unscale_`` and measures the norm this
        tracker records (its result is then the step's norm: :meth:`_clipped`); else the norm is taken first, from
        the gradients as they are before this clip, if it has not been."""
        if not self._unscaled:
            return False
        self._unscaled = False
        if self._same_norm(params, norm_type):
            return True
        if self._clip_reused:
            self._clip_reused = False
            self._last = self._norm.of_grads()
        return False

    def _clipped(self, norm: Any) -> None:
        self._last = norm
        self._clip_reused = True

    def _same_norm(self, params: List[Any], norm_type: Any) -> bool:
        """Whether ``clip_grad_norm_(params, norm_type=norm_type)`` measures what this tracker does: the 2-norm, in
        float32, of the gradients of exactly the parameters the optimizer steps."""
        try:
            if float(norm_type) != 2.0:
                return False
        except (TypeError, ValueError):
            return False
        ids = tuple(map(id, params))
        if ids == self._clip_ids:
            return True
        import torch

        same = ({id(p) for p in params if p.requires_grad} == {id(p) for p in self._params}
                and all(p.dtype == torch.float32 for p in self._params))
        if same:
            self._clip_ids = ids
        return same

    def _step(self, *args: Any, **kwargs: Any) -> Any:
        if self._unscaled:
            self._unscaled = False
            if self._clip_reused:
                self._last = self._norm.of_grads()
        if self._last is not None:
            self._norms.append(self._last)
            self._last = None
        return self._original_step(*args, **kwargs)

    def _remove_hooks(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def epoch_values(self) -> Dict[str, float]:
        """``info/param_norm`` and ``info/grad_norm`` (mean over the epoch's steps), read from the device in one
        transfer (the parts of the one and the steps' norms, stacked) and combined in float64; resets the epoch.
        Few tensor operations: each lets W&B's threads take the interpreter, which the training thread then
        waits to get back."""
        import torch

        with torch.no_grad():
            parts = self._norm.parts_of_params()
            values = torch.stack(parts + self._norms).tolist()
        self._norms = []
        figures = {"info/param_norm": math.sqrt(sum(v * v for v in values[:len(parts)]))}
        steps = values[len(parts):]
        if steps:
            figures["info/grad_norm"] = sum(steps) / len(steps)
        return figures

    def close(self) -> None:
        """Remove the hooks and give the optimizer its own ``step`` back (and the scaler its ``unscale_``, and
        ``clip_grad_norm_`` its own function when no other tracker watches it)."""
        self._remove_hooks()
        for restore in self._restore:
            restore()


def _replace_method(instance: Any, name: str, replacement: Callable[..., Any]) -> Callable[[], None]:
    """Set ``replacement`` as ``instance``'s attribute ``name``; returns what undoes it (the instance's own
    attribute back, or none)."""
    own = vars(instance).get(name)
    setattr(instance, name, replacement)

    def restore() -> None:
        if own is None:
            delattr(instance, name)
        else:
            setattr(instance, name, own)
    return restore


class _ClipWatch:
    """``torch.nn.utils.clip_grad_norm_`` as the trackers that watch it see it, installed while any does: it calls
    the function that was there before with the same arguments (a generator of parameters made a list first) and
    returns its result unchanged. rl_games' agents (``nn.utils.clip_grad_norm_``) look the function up at each
    call, so they call it; code that imported the function by name before does not, and its steps are measured as
    if it did not clip with it."""

    def __init__(self) -> None:
        self._trackers: List[GradNormTracker] = []
        self._installed: Any = None

    def add(self, tracker: GradNormTracker) -> Callable[[], None]:
        """Watch clips for ``tracker``; returns what stops it."""
        import torch.nn.utils

        if not self._trackers:
            self._installed = self._wrap(torch.nn.utils.clip_grad_norm_)
            torch.nn.utils.clip_grad_norm_ = self._installed
        self._trackers.append(tracker)

        def remove() -> None:
            self._trackers.remove(tracker)
            if not self._trackers and torch.nn.utils.clip_grad_norm_ is self._installed:
                torch.nn.utils.clip_grad_norm_ = self._installed.__wrapped__
        return remove

    def _wrap(self, original: Callable[..., Any]) -> Callable[..., Any]:
        import torch

        @functools.wraps(original)
        def clip_grad_norm_(parameters: Any, *args: Any, **kwargs: Any) -> Any:
            params = [parameters] if isinstance(parameters, torch.Tensor) else list(parameters)
            norm_type = args[1] if len(args) > 1 else kwargs.get("norm_type", 2.0)
            taking = [t for t in self._trackers if t._before_clip(params, norm_type)]
            norm = original(params, *args, **kwargs)
            for tracker in taking:
                tracker._clipped(norm)
            return norm
        return clip_grad_norm_


_CLIP_WATCH = _ClipWatch()


class TotalNorm:
    """The 2-norm of a fixed list of parameters, or of their gradients, all together, in float32, as a 0-d tensor on
    the first parameter's device, computed without an operation per tensor.

    With ``torch._foreach_norm`` (torch 1.13 and later) one call per device and dtype gives the per-tensor norms
    (one fused kernel on CUDA), combined as ``clip_grad_norm_`` combines them. Older torch (ASE's 1.8) gets one flat
    buffer per device and dtype, made on first use and reused: the tensors are copied in with one ``torch.cat`` and
    reduced in partial norms of ``CHUNK`` elements (the zero padding past the end adds nothing).
    """

    fused = True
    """Use ``torch._foreach_norm`` where torch has it; False takes older torch's flat buffer (the tests and the
    benchmark measure both on one torch)."""

    def __init__(self, params: List[Any]):
        import torch

        groups: Dict[Tuple[Any, Any], List[Any]] = {}
        for p in params:
            groups.setdefault((p.device, p.dtype), []).append(p)
        self._groups = list(groups.values())
        self._device = params[0].device if params else None
        self._fused = self.fused and hasattr(torch, "_foreach_norm")
        self._buffers: Dict[int, Any] = {}
        self._filled: Dict[int, int] = {}

    def of_params(self) -> Any:
        """The norm of the parameters' values."""
        import torch

        with torch.no_grad():
            return self._combine([self._group_norm(i, group) for i, group in enumerate(self._groups)])

    def parts_of_params(self) -> List[Any]:
        """0-d float32 tensors on the first parameter's device whose squares sum to the squared norm of the
        parameters' values: the per-tensor norms of one fused call where every parameter is float32 on one device,
        else that norm itself."""
        import torch

        if self._fused and len(self._groups) == 1 and self._groups[0][0].dtype == torch.float32:
            with torch.no_grad():
                return list(torch._foreach_norm(self._groups[0]))
        return [self.of_params()]

    def of_grads(self) -> Optional[Any]:
        """The norm of the gradients there are (None when no parameter has one)."""
        import torch

        norms = []
        with torch.no_grad():
            for i, group in enumerate(self._groups):
                grads = [p.grad for p in group if p.grad is not None]
                if grads:
                    norms.append(self._group_norm(i, grads))
            return self._combine(norms) if norms else None

    def _group_norm(self, index: int, tensors: List[Any]) -> Any:
        """The norm of ``tensors``, all of group ``index``'s device and dtype."""
        import torch

        low_precision = tensors[0].dtype in (torch.float16, torch.bfloat16)
        if self._fused and not low_precision:
            return torch.norm(torch.stack(torch._foreach_norm(tensors)), 2)
        partial = torch.norm(self._flat(index, tensors).view(-1, CHUNK), 2, 1,
                             dtype=torch.float32 if low_precision else None)
        return torch.norm(partial, 2)

    def _flat(self, index: int, tensors: List[Any]) -> Any:
        """Group ``index``'s buffer holding ``tensors`` one after another, zeros after them."""
        import torch

        buffer = self._buffers.get(index)
        if buffer is None:
            total = sum(p.numel() for p in self._groups[index])
            buffer = self._buffers[index] = tensors[0].new_zeros(-(-total // CHUNK) * CHUNK)
            self._filled[index] = 0
        size = sum(t.numel() for t in tensors)
        torch.cat([t.reshape(-1) for t in tensors], out=buffer[:size])
        if size < self._filled[index]:
            buffer[size:self._filled[index]].zero_()
        self._filled[index] = size
        return buffer

    def _combine(self, norms: List[Any]) -> Any:
        """One norm from the groups' norms, on the first parameter's device."""
        import torch

        if len(norms) == 1:
            return norms[0].to(self._device)
        return torch.norm(torch.stack([n.to(self._device, torch.float32) for n in norms]), 2)


def histogram_data(model: Any, which: str) -> Dict[str, Any]:
    """Numpy arrays of parameters and/or gradients (``which``: parameters, gradients or all), keyed for W&B."""
    data: Dict[str, Any] = {}
    for name, param in model.named_parameters():
        if which in ("parameters", "all"):
            data["parameters/" + name] = param.detach().float().cpu().numpy()
        if which in ("gradients", "all") and param.grad is not None:
            data["gradients/" + name] = param.grad.detach().float().cpu().numpy()
    return data


def gpu_memory(device: Any) -> Dict[str, float]:
    """``system/gpu_memory_*`` in GiB for a CUDA ``device`` (allocated, reserved, peak); empty otherwise."""
    import torch

    device = torch.device(device)
    if device.type != "cuda" or not torch.cuda.is_available():
        return {}
    gib = float(1 << 30)
    return {"system/gpu_memory_allocated_gb": torch.cuda.memory_allocated(device) / gib,
            "system/gpu_memory_reserved_gb": torch.cuda.memory_reserved(device) / gib,
            "system/gpu_memory_peak_gb": torch.cuda.max_memory_allocated(device) / gib}
