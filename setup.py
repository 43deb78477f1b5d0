"""hsi_wandb: rl_games / IsaacGym-style training on Weights & Biases."""
from setuptools import find_packages, setup

setup(
    name="hsi_wandb",
    version="0.1.0",
    description="Mirror rl_games TensorBoard stats and checkpoints to Weights & Biases, offline-first.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["hsi_wandb", "hsi_wandb.*"]),
    package_data={"hsi_wandb": ["py.typed"]},
    python_requires=">=3.8",
    # Ranges, not what pip resolved: hsi_wandb goes into the environment a simulator already lives in (TokenHSI,
    # ASE, IsaacGymEnvs, IsaacLab) and must change nothing there. Each floor is at or below every such stack's pin
    # and is tested: .ci/run installs each stack first, then hsi_wandb, fails if pip changed any installed version,
    # and runs the tests there; its ASE stage holds our other requirements at their floors (docs/versions.md).
    install_requires=[
        "torch>=1.8.1",
        "rl-games>=1.1.4,<1.7",
        "gym>=0.23.1",
        "numpy>=1.21",
        "wandb>=0.24.2",
        "pyyaml>=5.4.1",
        "python-dotenv>=0.19.2",
        "tqdm>=4.62.3",
    ],
    entry_points={"console_scripts": ["hsi-wandb=hsi_wandb.sync:main"]},
    # builtin: the built-in runner's AMP agent is built on rl-games 1.1.4's Runner (as ASE's and TokenHSI's are);
    # the adapter needs no extra. tensorboard and psutil: the tests read event files and process memory with them;
    # training needs neither. The tests also write .mp4/.gif files as simulators do (imageio) and record the
    # built-in tasks (video extra).
    extras_require={
        "builtin": ["rl-games==1.1.4"],
        "video": ["imageio-ffmpeg>=0.5.1"],
        "test": ["pytest", "hypothesis", "vermin", "tensorboard>=2.14.0", "psutil", "imageio>=2.35.1",
                 "imageio-ffmpeg>=0.5.1"],
        "benchmark": ["py-spy", "psutil", "imageio-ffmpeg>=0.5.1"],
    },
)
