"""Give an object that rl_games has already built a mixin's methods, by swapping its class for a mixed subclass."""
from typing import Any, Dict, Tuple


class Mixin:
    """Base of hsi_wandb's mixins: ``_wandb_next()`` reaches the wrapped class's own methods in either use.

    Used as a base (``class MyAgent(WandbMixin, A2CAgent)``) ``_wandb_owner`` is the mixin; attached to a built
    object it is the mixed class, whose only base is the object's class.
    """

    _wandb_owner: type
    _wandb_optional: Tuple[str, ...] = ()
    """Methods added only to classes that have them already (a wrapper needs something to wrap)."""

    def _wandb_next(self) -> Any:
        """The wrapped class's methods: ``super()`` that also works in classes made by :func:`mix_into`."""
        return super(self._wandb_owner, self)


_MIXED: Dict[Tuple[type, type], type] = {}


def mixed_class(cls: type, mixin: type) -> type:
    """``Wandb<Class>``: ``cls`` as its only base (so an instance's class can be swapped) plus ``mixin``'s methods."""
    if (cls, mixin) not in _MIXED:
        methods: Dict[str, Any] = {}
        for base in reversed([c for c in mixin.__mro__ if c is not object]):
            methods.update((k, v) for k, v in vars(base).items() if callable(v) and k != "__init__")
        methods = {k: v for k, v in methods.items() if k not in mixin._wandb_optional or hasattr(cls, k)}
        mixed = type("Wandb" + cls.__name__, (cls,), dict(methods, __module__=cls.__module__))
        mixed._wandb_owner = mixed
        _MIXED[(cls, mixin)] = mixed
    return _MIXED[(cls, mixin)]


def mix_into(obj: Any, mixin: type) -> Any:
    """Swap ``obj``'s class for ``mixed_class(type(obj), mixin)`` unless it has a mixin already; returns ``obj``."""
    if not hasattr(obj, "_wandb_owner"):
        obj.__class__ = mixed_class(type(obj), mixin)
    return obj
