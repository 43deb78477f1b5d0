"""What a researcher sees in a terminal: our lines, the epoch lines, a bar that fits, errors in one line."""
import fcntl
import glob
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time

import pytest

import run
from conftest import ROOT, finish_child

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
OURS = [re.compile(pattern) for pattern in (
    r"^hsi_wandb: ", r"^run\.py: ", r"^epoch \d+ frame \d+ reward \S+ fps \d+ epoch time [\d.]+s$",
    r"^mean episode reward: ", r"^\s*\d+%\|.*\| \d+/\d+ \[")]
"""Lines of ours: hsi_wandb's and run.py's own, the epoch lines, the summary, the progress bar."""
BAR = re.compile(r"^\s*\d+%\|(?P<bar>[^|]*)\| \d+/\d+ \[.*frame=(?P<frame>\d+)")


def in_terminal(argv, columns=80, env=None):
    """Run ``argv`` on a pseudo-terminal ``columns`` wide; returns (exit code, screen lines without escapes)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(master)
    code = proc.wait(timeout=60)
    text = ANSI.sub("", b"".join(chunks).decode("utf-8", "replace"))
    return code, [line.strip() for line in re.split(r"[\r\n]", text) if line.strip()]


@pytest.mark.slow
def test_a_default_run_in_an_80_column_terminal_shows_only_our_lines_and_a_bar_that_fits():
    env = {k: v for k, v in os.environ.items() if k != "WANDB_SILENT"}
    code, lines = in_terminal([sys.executable, os.path.join(ROOT, "run.py"), "--num_envs", "256",
                               "--horizon_length", "16", "--minibatch_size", "1024", "--output_path", "out",
                               "--max_iterations", "3"], env=env)
    assert code == 0, lines
    assert [line for line in lines if not any(p.search(line) for p in OURS)] == []
    epochs = [line for line in lines if line.startswith("epoch ")]
    assert [int(line.split()[3]) for line in epochs] == [0, 4096, 8192], "each epoch line at its row's frame"
    bars = [BAR.search(line) for line in lines if BAR.search(line)]
    assert bars and all(len(m.group(0)) <= 80 for m in bars)
    assert all(len(m.group("bar")) >= 10 for m in bars), [m.group(0) for m in bars]
    assert bars[-1].group("frame") == "8192", "the bar shows the frame the epoch lines and W&B show"
    assert re.search(r"^mean episode reward: [\d.]+ at epoch 2 \(the first with a finished episode\) -> [\d.]+ at "
                     r"epoch 3", "\n".join(lines), re.M)


@pytest.mark.slow
def test_verbose_shows_what_the_libraries_print():
    code, lines = in_terminal([sys.executable, os.path.join(ROOT, "run.py"), "--num_envs", "256",
                               "--horizon_length", "16", "--minibatch_size", "1024", "--output_path", "out",
                               "--max_iterations", "1", "--no_progress", "--no_wandb", "--verbose"], columns=200)
    assert code == 0, lines
    assert "Started to train" in lines and any(line.startswith("=> saving checkpoint") for line in lines)


@pytest.mark.parametrize("argv,message", [
    (["--wandb_mode", "onlin"], "run.py: error: argument --wandb_mode: invalid choice: "),
    (["--num_envs", "abc"], "run.py: error: argument --num_envs: invalid int value: 'abc'"),
    (["--resume", "2"], "run.py: error: argument --resume: invalid choice: "),
    (["--wandb_save_code", "maybe"], "run.py: error: argument --wandb_save_code: 'maybe' is not true or false"),
    (["--wandb_checkpoints", "all"], "run.py: error: argument --wandb_checkpoints: invalid choice: 'all'"),
    (["--wandb_init_timeout", "soon"], "run.py: error: argument --wandb_init_timeout: invalid float value: 'soon'"),
])
def test_a_flag_argparse_refuses_is_one_line(capsys, argv, message):
    with pytest.raises(SystemExit) as stopped:
        run.main(argv)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith(message) and err.rstrip().endswith("(see --help)"), err


BIG_FIRST_EPOCH = ["--num_envs", "4096", "--horizon_length", "32", "--minibatch_size", "16384", "--output_path",
                   "out", "--max_iterations", "50", "--no_progress"]


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["out/*", "out/*/wandb/offline-run-*/files"],
                         ids=["experiment-folder-made", "wandb-run-started"])
def test_ctrl_c_before_the_first_epoch_leaves_nothing_and_says_so(moment):
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "run.py")] + BIG_FIRST_EPOCH,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not glob.glob(moment) and proc.poll() is None:
        time.sleep(0.02)
    (exp_dir,) = glob.glob("out/*")
    assert not glob.glob(os.path.join(exp_dir, "metrics.jsonl")), "the first epoch is still running"
    proc.send_signal(signal.SIGINT)
    out, err = finish_child(proc)
    assert proc.returncode == 130, err[-2000:]
    assert err.rstrip().splitlines()[-1] == ("run.py: interrupted before the first epoch finished: nothing was "
                                             "trained; removed {}".format(exp_dir)), err[-2000:]
    assert os.listdir("out") == [] and "epoch 1" not in out
