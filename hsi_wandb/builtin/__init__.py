"""Built-in layer: point-mass tasks, an AMP agent and player for rl_games 1.1.4, and reach evaluation (no W&B code)."""
