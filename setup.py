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
    # Floors: the oldest versions CI tests (its Python 3.8 stage). torch has none on purpose: install the torch
    # your simulator and CUDA need first (docs/versions.md).
    install_requires=[
        "torch",
        "rl-games==1.1.4",
        "gym==0.26.2",
        "numpy>=1.24.4",
        "wandb>=0.24.2",
        "tensorboardX>=2.6.2.2",  # the SummaryWriter rl-games 1.1.4's agents write through, which hsi_wandb wraps
        "pyyaml>=6.0.3",
        "python-dotenv>=1.0.1",
        "tqdm>=4.70.1",
    ],
    entry_points={"console_scripts": ["hsi-wandb=hsi_wandb.sync:main"]},
    # tensorboard and psutil: the tests read event files and process memory with them; training needs neither.
    # The tests also write .mp4/.gif files as simulators do (imageio) and record the built-in tasks (video extra).
    extras_require={
        "video": ["imageio-ffmpeg>=0.5.1"],
        "test": ["pytest", "hypothesis", "vermin", "tensorboard>=2.14.0", "psutil", "imageio>=2.35.1",
                 "imageio-ffmpeg>=0.5.1"],
        "benchmark": ["py-spy", "psutil", "imageio-ffmpeg>=0.5.1"],
    },
)
