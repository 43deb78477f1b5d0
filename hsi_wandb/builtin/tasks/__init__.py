"""Built-in point-mass tasks (trajectory following, reach-and-hold, multi-task)."""

from .multi_task import PointMassMultiTask
from .reach import PointMassReach
from .traj import PointMassTraj

TASKS = {cls.__name__: cls for cls in (PointMassTraj, PointMassReach, PointMassMultiTask)}
