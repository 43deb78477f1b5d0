"""IsaacLab's rl_games workflow imports still work beside hsi_wandb: rl-games 1.6's observer and Runner, tqdm 4.67.1."""
import gym  # noqa: F401
import tqdm
from rl_games.common.algo_observer import IsaacAlgoObserver  # noqa: F401
from rl_games.torch_runner import Runner  # noqa: F401

assert tqdm.__version__ == "4.67.1"
print("IsaacLab imports: ok")
