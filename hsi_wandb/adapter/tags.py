"""rl_games' tag schema: how a TensorBoard tag of rl_games' agents and observers (ASE's, TokenHSI's, IsaacGymEnvs')
becomes a W&B key (the README's "What appears on W&B" table), and which x-axis the tag was written against. The
module is the schema object the writer mirror takes (``map_tag``, ``also_logged_as``)."""
import functools
import re
from typing import Tuple

from ..writer import EPOCH, FRAME, TIME, Mapped

_NAMESPACES = frozenset(("performance", "losses", "info", "eval", "system"))
_NUMBERED_FAMILY = re.compile(r"^(rewards|episode_lengths|shaped_rewards|scores)(\d*)/(frame|step|mean|iter|time)$")
_TASK_REWARD = re.compile(r"^(?:rewards/|reward_)([^/]+)/(frame|step|iter|time)$")
_OBSERVER_FAMILY = re.compile(r"^(successes/[^/]+)/(mean|iter|time)$")
_DIMENSION_ZERO = re.compile(r"^(rewards|shaped_rewards)/mean$")
_AXIS_FAMILY = re.compile(r"^(.+)/(frame|iter|time)$")
_EPOCH_TAGS = re.compile(r"^Episode/")
_AXIS_OF_SUFFIX = {"frame": FRAME, "step": FRAME, "mean": FRAME, "iter": EPOCH, "time": TIME}


@functools.lru_cache(maxsize=4096)
def map_tag(tag: str) -> Mapped:
    """Map a TensorBoard tag to its W&B key: ``rewards0/iter`` -> ``rewards/mean``, unknown tags unchanged.

    TokenHSI's per-task ``reward_{task}/...`` and the built-in ``rewards/{task}/...`` both become ``rewards/{task}``;
    the ``successes/consecutive_successes/mean|iter|time`` of ASE's and TokenHSI's ``RLGPUAlgoObserver`` become
    ``successes/consecutive_successes``, and any ``<name>/frame|iter|time`` (IsaacGymEnvs' flattened
    ``episode/rew_x/frame``) becomes ``<name>`` unless ``<name>`` starts with a namespace of the metric table.
    ``Episode/<key>`` keeps its name; IsaacGymEnvs' and rl_games' Isaac observers write it against the epoch.
    """
    match = _NUMBERED_FAMILY.match(tag)
    if match:
        family, index, suffix = match.groups()
        leaf = "mean" if index in ("", "0") else index
        return Mapped("{}/{}".format(family, leaf), _AXIS_OF_SUFFIX[suffix])
    match = _TASK_REWARD.match(tag)
    if match:
        return Mapped("rewards/{}".format(match.group(1)), _AXIS_OF_SUFFIX[match.group(2)])
    match = _OBSERVER_FAMILY.match(tag) or _AXIS_FAMILY.match(tag)
    if match and match.group(1).split("/")[0] not in _NAMESPACES:
        return Mapped(match.group(1), _AXIS_OF_SUFFIX[match.group(2)])
    return Mapped(tag, EPOCH if _EPOCH_TAGS.match(tag) else FRAME)


def also_logged_as(key: str) -> Tuple[str, ...]:
    """Further W&B keys for a key's value: value dimension 0 is ``rewards/mean`` and also ``rewards/0``."""
    match = _DIMENSION_ZERO.match(key)
    return ("{}/0".format(match.group(1)),) if match else ()
