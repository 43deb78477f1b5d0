"""Multi-task env: each env samples one of several named objectives per episode; a one-hot task id joins the obs."""

from typing import Any, Mapping, Union

import torch

from ..vec_task import VecTask
from .heading import HeadingObjective
from .reach import ReachObjective
from .traj import TrajObjective

OBJECTIVES = {cls.name: cls for cls in (TrajObjective, ReachObjective, HeadingObjective)}


class PointMassMultiTask(VecTask):
    """Point masses doing traj / reach / heading, chosen per env per episode (env.tasks, env.taskProbs)."""

    def __init__(self, cfg: Mapping[str, Any], device: Union[str, torch.device]) -> None:
        """Instantiate the objectives listed in cfg['env']['tasks'] (default: all)."""
        env = cfg["env"]
        names = env.get("tasks", list(OBJECTIVES))
        objectives = [OBJECTIVES[name](env, int(env["numEnvs"]), device, float(cfg["sim"]["dt"])) for name in names]
        super().__init__(cfg, objectives, device)
