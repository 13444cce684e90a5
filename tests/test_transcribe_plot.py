"""`speechseq transcribe --plot`: the picture of what the recogniser heard in the first file (commands/transcript_plot):
written for the shipped sample, its words and commands the result's, at the file's own times, a bad path refused before
any work."""
from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from .cli_run import run as speechseq
from .odd_names import plots_of_odd_names

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "samples" / "activate_kitchen_lights.wav"
HOME = ROOT / "data" / "commands" / "home.txt"
SHIPPED = ROOT / "models" / "recognizer-en.onnx"

needs_model = pytest.mark.skipif(not SHIPPED.is_file(), reason="the shipped recogniser is not here")


def _png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR; fails on anything that is no PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def heard_sample():
    """(transcript, Heard) of the sample as `transcribe --commands home.txt` reads it (greedy, the energy VAD)."""
    from speechseq.commands.transcript_plot import heard
    from speechseq.runtime.command_set import CommandSet
    from speechseq.runtime.recognizer import DecodeOptions, Recognizer
    from speechseq.runtime.vad import EnergyVad

    if not SHIPPED.is_file():
        pytest.skip("the shipped recogniser is not here")
    rec = Recognizer(SHIPPED)
    opts = DecodeOptions(commands=CommandSet.load(HOME), words_around=True)
    t = rec.transcribe_file(SAMPLE, opts, vad=EnergyVad())
    return rec, t, heard(rec, SAMPLE, t)


@needs_model
def test_plot_of_the_sample_is_a_png(tmp_path):
    png = tmp_path / "sub" / "heard.png"   # a folder that is not there yet is made, as detect --plot makes it
    code, out, err = speechseq("transcribe", SAMPLE, "--plot", png)
    assert code == 0, err
    assert out.strip() and err.strip().splitlines()[-1] == f"wrote {png}"
    assert _png_size(png) == (1000, 550)   # 10 x 5.5 inches at 100 dpi
    assert png.stat().st_size > 20_000     # a spectrogram, not an empty frame


def test_drawn_words_are_the_results_at_the_files_times(heard_sample):
    """Each word over its own start..end, labelled and shaded by its confidence; the posteriors lie in the stretches
    recognised, at the file's times (the sample's speech starts after 0.9 s of quiet: a stretch drawn from 0 would
    be at its own times)."""
    _, t, h = heard_sample
    assert len(t.words) >= 3
    assert [(s.start, s.end, s.label, s.confidence) for s in h.words] == [
        (w.start, w.end, w.word, w.confidence) for w in t.words]
    assert h.stretches == tuple((s.start, s.end) for s in t.segments) and h.stretches[0][0] > 0.5
    times = h.times[np.isfinite(h.times)]
    assert len(times) > 50 and np.all(np.diff(times) > 0)
    inside = np.zeros(len(times), bool)
    for a, b in h.stretches:
        inside |= (times >= a) & (times <= b)
    assert inside.all()
    live = np.isfinite(h.blank)
    assert np.array_equal(live, np.isfinite(h.times)) and np.array_equal(live, np.isfinite(h.best))
    assert np.all(h.blank[live] + h.best[live] <= 1 + 1e-5) and np.all(h.best[live] >= 0)
    for w in t.words:   # a word is where the recogniser heard characters: some frame of it not blank
        here = live & (h.times >= w.start - 0.05) & (h.times <= w.end + 0.05)
        assert h.best[here].max() > 0.3, w
    assert h.duration == t.duration and h.spec.n == pytest.approx(t.duration * 100, abs=3)


def test_drawn_commands_are_those_of_the_json(heard_sample, tmp_path):
    """With --commands, each command taken is marked over the span transcribe's JSON gives it, its phrase written."""
    from speechseq.commands.transcript_plot import command_spans, plot_transcript

    rec, t, h = heard_sample
    taken = t.to_json("", commands=True)["commands"]
    assert taken and taken[0]["command"] == "turn on the kitchen lights"
    assert [(s.start, s.end, s.label) for s in h.commands] == [(c["start"], c["end"], c["command"]) for c in taken]
    assert command_spans(t) == h.commands
    fig = plot_transcript(rec, SAMPLE, t, str(tmp_path / "p.png"))
    spec_ax, post_ax = fig.axes[:2]
    assert [x.get_text() for x in spec_ax.texts] == [w.word for w in t.words]
    assert "turn on the kitchen lights" in [x.get_text() for x in post_ax.texts]
    assert [a.get_ylabel() for a in spec_ax.child_axes] == ["word confidence"]   # the colour bar: what shading says


@needs_model
def test_commands_in_the_cli_plot_and_json_agree(tmp_path):
    png = tmp_path / "p.png"
    code, out, err = speechseq("transcribe", SAMPLE, "--commands", HOME, "--format", "json", "--plot", png)
    assert code == 0, err
    assert json.loads(out)["commands"][0]["command"] == "turn on the kitchen lights"
    assert _png_size(png) == (1000, 550)


@pytest.mark.parametrize("bad", ["folder", "p.txt", "-"])
def test_a_bad_plot_path_is_one_line_before_any_work(tmp_path, bad):
    """No transcription (nothing on stdout), one line on stderr naming --plot; a folder, a text suffix, standard
    output."""
    (tmp_path / "folder").mkdir()
    path = bad if bad == "-" else tmp_path / bad
    code, out, err = speechseq("transcribe", SAMPLE, "--plot", path)
    assert code != 0 and out == ""
    assert len(err.strip().splitlines()) == 1 and f"error: --plot {path}" in err   # (not --plot-attention's)
    assert ("directory", "unsupported file type", "standard output")[["folder", "p.txt", "-"].index(bad)] in err
    assert not (tmp_path / "p.txt").exists()


def test_plot_and_plot_attention_on_one_path_is_refused(tmp_path):
    code, out, err = speechseq("transcribe", SAMPLE, "--plot", tmp_path / "a.png", "--plot-attention",
                               tmp_path / "." / "a.png")
    assert code != 0 and out == "" and len(err.strip().splitlines()) == 1
    assert "--plot and --plot-attention" in err


@needs_model
def test_plot_of_several_files_draws_the_first_read_and_says_so(tmp_path):
    """The first file that was read (one that cannot be read is not it); stderr says which and that the others are
    not drawn; --help says the first file."""
    bad, other = tmp_path / "broken.wav", tmp_path / "second.wav"
    bad.write_bytes(b"not audio")
    sf.write(other, np.zeros(16000, np.float32), 16000)
    png = tmp_path / "p.png"
    code, out, err = speechseq("transcribe", bad, SAMPLE, other, "--plot", png)
    assert code == 1   # the broken file
    assert f"wrote {png} (of {SAMPLE.name}: the first file read; the others are not drawn)" in err.splitlines()
    assert _png_size(png) == (1000, 550)
    code, out, _ = speechseq("transcribe", "--help")
    assert "first file" in " ".join(out.split()[out.split().index("--plot"):][:20])


def test_no_file_read_writes_no_plot(tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"not audio")
    code, _, err = speechseq("transcribe", bad, "--plot", tmp_path / "p.png")
    assert code == 1 and not (tmp_path / "p.png").exists()
    assert "--plot" in err and "no file was read" in err


def test_cutter_gives_each_span_across_blocks():
    """The stretches are cut from the stream as transcribe cut them, whatever the blocks (read in 10 s)."""
    from speechseq.commands.transcript_plot import _Cutter

    x = np.arange(100, dtype=np.float32)
    spans = [(5, 12), (12, 30), (40, 95), (98, 105)]   # the last runs past the stream's end
    cut = _Cutter(spans)
    got = []
    for i in range(0, 100, 7):
        got += cut.add(x[i: i + 7])
    got += cut.rest()
    assert [a for a, _ in got] == [5, 12, 40, 98]
    for (a, b), (_, samples) in zip(spans, got):
        assert np.array_equal(samples, x[a: min(b, 100)])


@needs_model
def test_plot_of_a_file_whose_name_matplotlib_would_parse(tmp_path):
    plots_of_odd_names(tmp_path, SAMPLE, "transcribe")


def test_a_label_at_the_files_end_leaves_the_axes_their_width(heard_sample, tmp_path):
    """A word or command label past the right edge (a word at the file's end) is moved left of its point; laid out
    where it was first put, it shrank both panels (to 85% of the picture's width for 10 minutes of speech), a band of
    white on the right."""
    from speechseq.commands.transcript_plot import plot_transcript
    from speechseq.runtime.decoding import Word
    from speechseq.runtime.recognizer import Transcript

    rec, t, _ = heard_sample
    end = Word("lightsandmorelights", t.duration - 0.1, t.duration, 0.5)
    late = Transcript(t.duration, t.text + " " + end.word, t.words + (end,), t.segments)
    right = plot_transcript(rec, SAMPLE, t, str(tmp_path / "p.png")).axes[0].get_position().x1
    fig = plot_transcript(rec, SAMPLE, late, str(tmp_path / "p.png"))
    spec_ax, post_ax = fig.axes[:2]
    assert spec_ax.get_position().x1 == pytest.approx(post_ax.get_position().x1)
    assert spec_ax.get_position().x1 == pytest.approx(right) and right > 0.9   # (0.889 with the label laid out)
    label = spec_ax.texts[-1]
    assert label.get_text() == end.word and label.get_visible() and label.get_horizontalalignment() == "right"


def test_word_edges_are_drawn_only_where_they_leave_the_spectrogram_seen(heard_sample, tmp_path):
    """The edges of a few words go down through the bands; those of more than EDGES_UP_TO (840 in 10 minutes) hid the
    spectrogram, and only their boxes at the top are drawn."""
    from matplotlib.collections import LineCollection

    from speechseq.commands.transcript_plot import EDGES_UP_TO, plot_transcript
    from speechseq.runtime.decoding import Word
    from speechseq.runtime.recognizer import Transcript

    rec, t, _ = heard_sample
    step = t.duration / (EDGES_UP_TO + 1)
    many = tuple(Word("a", k * step, (k + 0.5) * step, 0.5) for k in range(EDGES_UP_TO + 1))
    for words, edges in ((t.words, 2 * len(t.words)), (many, 0)):
        fig = plot_transcript(rec, SAMPLE, Transcript(t.duration, "", words, t.segments), str(tmp_path / "p.png"))
        lines = [c for c in fig.axes[0].collections if isinstance(c, LineCollection)]
        assert sum(len(c.get_segments()) for c in lines) == edges
