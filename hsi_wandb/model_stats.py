"""Per-epoch model statistics for the mirror: gradient norm before clipping, parameter norm, histogram data."""
from typing import Any, Callable, Dict, List, Optional


class GradNormTracker:
    """Measures the total gradient norm of every optimizer step before any clipping, averaged per epoch, over the
    parameters ``optimizer`` steps: what rl_games' agents clip (the policy's, and for AMP agents built as the
    built-in one is, the discriminator's in another parameter group of the same optimizer).

    A hook on each parameter's gradient queues a callback for the end of the backward pass; the first
    callback reads the finished gradients (clipping comes after backward returns) and keeps their total
    norm, which the wrapper on this optimizer instance's ``step`` records. No gradient is referenced while
    autograd accumulates it (that would make autograd copy it), and the hooks do no tensor work. A backward
    pass that fails drops its callbacks, so every pass queues its own.
    ``grad_scale`` returns the loss scale when mixed precision scales the gradients.
    """

    def __init__(self, optimizer: Any, grad_scale: Optional[Callable[[], float]] = None):
        from torch.autograd import Variable

        unique = {id(p): p for group in optimizer.param_groups for p in group["params"] if p.requires_grad}
        self._params = list(unique.values())
        self._grad_scale = grad_scale
        self._queue_callback = Variable._execution_engine.queue_callback
        self._armed = False
        self._last: Any = None
        self._norms: List[Any] = []
        self._handles = [p.register_hook(self._arm) for p in self._params]
        self._optimizer = optimizer
        self._own_step = vars(optimizer).get("step")
        self._original_step = optimizer.step
        optimizer.step = self._step

    def _arm(self, grad: Any) -> None:
        self._armed = True
        self._queue_callback(self._measure)

    def _measure(self) -> None:
        if not self._armed:
            return
        self._armed = False
        grads = [p.grad for p in self._params if p.grad is not None]
        if grads:
            self._last = _total_norm(grads)

    def _step(self, *args: Any, **kwargs: Any) -> Any:
        if self._last is not None:
            norm = self._last
            if self._grad_scale is not None:
                norm = norm / self._grad_scale()
            self._norms.append(norm)
            self._last = None
        return self._original_step(*args, **kwargs)

    def epoch_values(self) -> Dict[str, float]:
        """``info/grad_norm`` (mean over the epoch's steps) and ``info/param_norm``; resets the epoch."""
        import torch

        with torch.no_grad():
            values = {"info/param_norm": float(_total_norm([p.detach() for p in self._params]))}
            if self._norms:
                values["info/grad_norm"] = float(torch.stack(self._norms).mean())
        self._norms = []
        return values

    def close(self) -> None:
        """Remove the hooks and give the optimizer its own ``step`` back."""
        for handle in self._handles:
            handle.remove()
        if self._own_step is None:
            del self._optimizer.step
        else:
            self._optimizer.step = self._own_step


def _total_norm(tensors: List[Any]) -> Any:
    """The 2-norm of all ``tensors`` together, computed in float32 (a 0-d tensor).

    ``torch.norm``, not ``torch.linalg.vector_norm``: the latter is missing from torch 1.8 (ASE's pin)."""
    import torch

    return torch.norm(torch.stack([torch.norm(t, 2, dtype=torch.float32) for t in tensors]), 2)


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
