"""listen --exec CMD read before anything runs (speechseq/commands/exec_words.py): a shell given -c and no script would
run the final text, words heard, as shell code, and is refused; a shell's option cluster that takes a word (-co
pipefail) is not the script."""
from __future__ import annotations

import pytest

from speechseq.commands.exec_words import _shell_script

from .cli_run import run
from .listener_fixtures import SAMPLE

NOT_EXPANDED = "is passed as written, not expanded"


def _listen_exec(tmp_path, cmd: str) -> tuple[int, str]:
    """Exit code and stderr of `listen --exec CMD`, which stops at its missing keyword model where CMD passes."""
    code, out, err = run("listen", "--input", SAMPLE, "--fast", "--keyword-model", tmp_path / "none.onnx",
                         "--exec", cmd)
    return code, err


@pytest.mark.parametrize("cmd", ["sh -c", "bash -lc", "sh -c --", "env A=1 sh -c", "/bin/bash -o errexit -c",
                                 "bash -co pipefail"])
def test_a_shell_given_c_and_no_script_is_refused(tmp_path, cmd):
    """`sh -c` ran the final text as its script ("are on the carton life": "sh: 1: are: not found"; a text that is a
    command would run): refused before any model is loaded, with the form to use."""
    code, err = _listen_exec(tmp_path, cmd)
    assert code == 1 and "would run the final text as shell code" in err and "sh -c '" in err, err
    assert "none.onnx" not in err and "Traceback" not in err


@pytest.mark.parametrize("cmd", ["bash -co pipefail 'echo \"$1\"' sh", "bash +o posix -c 'echo $1' sh",
                                 "bash -c -o pipefail 'echo $1' sh"])
def test_a_cluster_that_takes_a_word_is_not_the_script(tmp_path, cmd):
    """-co pipefail: c, then o taking "pipefail"; the script is the word after (it was taken for "pipefail", and its
    $1 warned of as passed as written)."""
    code, err = _listen_exec(tmp_path, cmd)
    assert code == 1 and "none.onnx" in err, err   # (past the --exec checks: stopped at the missing model)
    assert NOT_EXPANDED not in err, err


@pytest.mark.parametrize("words, found", [(["sh", "-c", "x"], (True, 2)), (["bash", "-co", "pipefail", "x"], (True, 3)),
                                          (["sh", "-c"], (True, None)), (["sh", "x.sh"], (False, None)),
                                          (["echo", "-c", "x"], (False, None)), ([], (False, None)),
                                          (["nice", "-n", "5", "bash", "--rcfile", "f", "-c", "x"], (True, 7))])
def test_the_script_found(words, found):
    assert _shell_script(words) == found


def test_a_shell_with_a_script_still_runs(tmp_path):
    code, err = _listen_exec(tmp_path, "sh -c 'echo \"$1\"' sh")
    assert code == 1 and "none.onnx" in err and "shell code" not in err and NOT_EXPANDED not in err, err
