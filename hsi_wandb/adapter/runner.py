"""rl_games adapter: give a mixin to every agent and player an rl_games ``Runner`` builds, their classes unedited.

A Runner builds agents and players itself, from builders registered by name in its ``algo_factory`` and
``player_factory``. Each builder is registered again, wrapped so that what it builds gets its mixin
(:func:`hsi_wandb.mixing.mix_into` swaps the built object's class) before the Runner uses it.
"""
from typing import Any, Callable

Attach = Callable[[Any, Any], Any]
"""Gives a built agent or player its mixin and the run options; returns it."""


def attach_to_builders(runner: Any, attach_agent: Attach, attach_player: Attach, options: Any) -> None:
    """Wrap every algorithm and player builder in ``runner`` so that what it builds is attached with ``options``."""
    for factory, attach in ((runner.algo_factory, attach_agent), (runner.player_factory, attach_player)):
        for name, builder in list(factory._builders.items()):
            factory.register_builder(name, _attaching(builder, attach, options))


def _attaching(builder: Any, attach: Attach, options: Any) -> Any:
    def build(**kwargs: Any) -> Any:
        return attach(builder(**kwargs), options)

    return build
