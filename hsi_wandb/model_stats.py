"""Per-epoch model statistics for the mirror: gradient norm before clipping, parameter norm, histogram data."""
from typing import Any, Callable, Dict, List, Optional


class GradNormTracker:
    """Measures the total gradient norm of every optimizer step before any clipping, averaged per epoch.

    Gradient hooks add each parameter's squared norm as backward computes it (so clipping, which comes
    later, cannot affect it); a wrapper on this optimizer instance's ``step`` closes each step's sum.
    ``grad_scale`` returns the loss scale when mixed precision scales the gradients.
    """

    def __init__(self, model: Any, optimizer: Any, grad_scale: Optional[Callable[[], float]] = None):
        self._params = [p for p in model.parameters() if p.requires_grad]
        self._grad_scale = grad_scale
        self._squares: Any = None
        self._norms: List[Any] = []
        self._handles = [p.register_hook(self._accumulate) for p in self._params]
        self._optimizer = optimizer
        self._own_step = vars(optimizer).get("step")
        self._original_step = optimizer.step
        optimizer.step = self._step

    def _accumulate(self, grad: Any) -> None:
        square = grad.detach().float().pow(2).sum()
        self._squares = square if self._squares is None else self._squares + square

    def _step(self, *args: Any, **kwargs: Any) -> Any:
        if self._squares is not None:
            norm = self._squares.sqrt()
            if self._grad_scale is not None:
                norm = norm / self._grad_scale()
            self._norms.append(norm)
            self._squares = None
        return self._original_step(*args, **kwargs)

    def epoch_values(self) -> Dict[str, float]:
        """``info/grad_norm`` (mean over the epoch's steps) and ``info/param_norm``; resets the epoch."""
        import torch

        with torch.no_grad():
            values = {"info/param_norm": float(torch.stack([p.detach().float().pow(2).sum()
                                                            for p in self._params]).sum().sqrt())}
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
