"""Every shipped model has its card beside it (models/NAME.md with data, command and measured
metrics; NAME.json for programs, matching the file's bytes; NAME.card.md), kept by
scripts/model_cards.py."""
from __future__ import annotations

import shutil
from pathlib import Path
from tests.script_loader import load_script

ROOT = Path(__file__).resolve().parents[1]
model_cards = load_script("model_cards")


def test_every_shipped_model_has_a_current_card():
    models = sorted(p.name for p in (ROOT / "models").iterdir() if p.suffix in (".onnx", ".npz"))
    assert "activate.onnx" in models and "recognizer-en.onnx" in models
    assert model_cards.problems() == []


def test_missing_stale_and_incomplete_cards_are_named(tmp_path):
    for name in ("activate.onnx", "activate.md"):
        shutil.copy(ROOT / "models" / name, tmp_path / name)
    assert [p.split(":")[0] for p in model_cards.problems(tmp_path)] == ["activate.json", "activate.card.md"]
    model_cards.write(tmp_path)
    assert model_cards.problems(tmp_path) == []
    (tmp_path / "activate.onnx").write_bytes(b"changed")          # the model changed, its card did not
    assert model_cards.problems(tmp_path) == ["activate.json: missing or stale (run scripts/model_cards.py)"]
    (tmp_path / "activate.md").write_text("# activate\n\n## Card\n\n**Data:** x. **Command:** y.\n")
    assert "no '## Card' paragraph" in model_cards.problems(tmp_path)[0]
    (tmp_path / "activate.md").unlink()
    assert model_cards.problems(tmp_path) == ["activate.onnx: no card activate.md"]


def test_a_damaged_card_and_a_model_of_any_case_are_named(tmp_path):
    """A NAME.json that is no JSON is stale (it was a JSONDecodeError traceback from --check), and a model named
    x.ONNX, which the runtime loads as it loads x.onnx, needs its card too (it was not looked at)."""
    for name in ("activate.onnx", "activate.md"):
        shutil.copy(ROOT / "models" / name, tmp_path / name)
    model_cards.write(tmp_path)
    (tmp_path / "activate.json").write_text('{"model": "activate.onnx", "bytes": ')   # cut short
    assert model_cards.problems(tmp_path) == ["activate.json: missing or stale (run scripts/model_cards.py)"]
    model_cards.write(tmp_path)
    shutil.copy(ROOT / "models" / "activate.onnx", tmp_path / "other.ONNX")
    assert model_cards.problems(tmp_path) == ["other.ONNX: no card other.md"]


def test_writing_names_a_model_without_a_card_and_writes_the_others(tmp_path):
    """`model_cards.py` (write mode) with a new model that has no card yet, or a card without its fields: it was a
    FileNotFoundError / ValueError traceback, and the models after it got no card either. Now the others are
    written, and --check names the problem."""
    shutil.copy(ROOT / "models" / "activate.onnx", tmp_path / "activate.onnx")       # no activate.md
    for name in ("computer.onnx", "computer.md"):
        shutil.copy(ROOT / "models" / name, tmp_path / name)
    shutil.copy(ROOT / "models" / "activate.onnx", tmp_path / "other.onnx")
    (tmp_path / "other.md").write_text("# other\n\nno card section\n")
    model_cards.write(tmp_path)
    assert model_cards.problems(tmp_path) == [
        "activate.onnx: no card activate.md",
        "other.md: no '## Card' paragraph with **Data:**, **Command:** and **Metrics:**"]
    assert (tmp_path / "computer.json").is_file() and (tmp_path / "computer.card.md").is_symlink()
    assert not (tmp_path / "activate.json").exists() and not (tmp_path / "other.json").exists()


def test_card_paragraph_ends_at_a_blank_line_of_spaces(tmp_path):
    """Markdown ends a paragraph at a line of spaces too, and lets a heading end in spaces: the Metrics field took
    the next paragraph in (a silently wrong card), and "## Card " was no card."""
    md = tmp_path / "x.md"
    md.write_text("# x\n\n## Card\n\n**Data:** d. **Command:** `c`. **Metrics (measured):** 1 %.\n   \nConv1D, 2 MB.\n")
    assert model_cards.card_fields(md) == {"data": "d.", "command": "`c`.", "metrics": "1 %."}
    md.write_text("# x\n\n## Card  \n\n**Data:** d.\n**Command:** `c`.\n**Metrics:** 1 %.\n\nConv1D, 2 MB.\n")
    assert model_cards.card_fields(md) == {"data": "d.", "command": "`c`.", "metrics": "1 %."}


# --- what the cards say about the files and commands beside them (the project's rule: every figure measured) ---

def _bench_listener_commands() -> tuple[str, ...]:
    """scripts/bench_listener.py's COMMANDS, read from its source (importing it would set the thread variables of
    this process)."""
    import ast

    tree = ast.parse((ROOT / "scripts" / "bench_listener.py").read_text())
    node = next(n for n in tree.body if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "COMMANDS")
    return ast.literal_eval(node.value)


def test_words_card_counts_the_listener_commands_as_the_script_has_them():
    """words-en.md said "the 5 spoken commands of scripts/bench_listener.py" and 2.6 % out of the text's vocabulary:
    the script has 4 (72 words, "music" and "dim" out of it: 2.8 %), and its --commands refuses 5."""
    import re

    import numpy as np

    from speechseq.runtime.lexicon import load_lexicon

    row = re.search(r"OOV rate, the (\d+) spoken commands of `scripts/bench_listener.py` \| ([\d.]+) % \(([\d.]+) %",
                    (ROOT / "models" / "words-en.md").read_text())
    assert row is not None
    commands = _bench_listener_commands()
    assert int(row.group(1)) == len(commands) == 4
    words = [w for c in commands for w in c.split()]
    lex = load_lexicon(ROOT / "models" / "words-en.npz")
    text_words = set(str(w) for w in np.load(ROOT / "models" / "words-en.npz")["words"][3:3 + 14508])
    assert len(text_words) == 14508 and {"music", "dim"}.isdisjoint(text_words)   # the text's vocabulary alone
    oov = sum(lex.lm.id(w) in (None, -1, 2) for w in words)
    oov_text = sum(w not in text_words for w in words)
    assert float(row.group(2)) == round(100 * oov / len(words), 1) == 0.0
    assert float(row.group(3)) == round(100 * oov_text / len(words), 1) == 2.8


def test_words_card_quotes_what_transcribe_prints_on_the_demo(capsys):
    """words-en.md quoted `speechseq transcribe data/samples/activate_kitchen_lights.wav` outputs of the sessions 1-2
    recogniser without its voice activity detector ("to a there on the cia life"), as the words of a recording said
    to hold "activate kitchen lights" (it says "activate ... turn on the kitchen lights", as README says): each row of
    its table is now the command's output with the shipped files."""
    import re
    import shlex

    from speechseq.cli import main

    text = (ROOT / "models" / "words-en.md").read_text()
    assert '"activate … turn on the kitchen lights"' in text
    rows = re.findall(r'^\| `speechseq transcribe data/samples/activate_kitchen_lights.wav([^`]*)` \| "([^"]*)" \|$',
                      text, re.M)
    assert len(rows) == 6
    for options, said in rows:
        assert main(["transcribe", str(ROOT / "data" / "samples" / "activate_kitchen_lights.wav"),
                     *shlex.split(options)]) == 0
        assert capsys.readouterr().out.strip() == said, options


def test_decoder_card_names_the_decoder_transcribe_picks_by_default():
    """decoder-en.md called `--decoder rescore` "the default when it fits the recogniser": `transcribe --decoder auto`
    picks the lexicon search whenever words-en.npz is there (and rescoring only without it)."""
    import re

    from speechseq.cli import build_parser
    from speechseq.runtime.text_decoder import best_available

    args = build_parser().parse_args(["transcribe", "talk.wav"])
    assert args.decoder == "auto" and Path(args.lexicon).is_file()     # so auto is the lexicon search (transcribe.run)
    # without the lexicon, auto would not pick rescore either: the shipped recogniser is not the decoder's
    assert best_available(args.model, args.lm, args.attention_decoder) == "beam-lm"
    text = " ".join((ROOT / "models" / "decoder-en.md").read_text().split())
    assert not re.search(r"--decoder rescore`? \(the default", text)
    assert "`--decoder auto` picks it only without a lexicon" in text


def test_stream_cards_say_how_to_rerun_their_listener_bench():
    """The streaming cards' Card line (which models/*.json repeats) names `scripts/bench_listener.py --commands 5`:
    the script has 4 commands and refuses 5 since its options are checked, so the card says what runs the same
    scenarios now. The option is --utterances since (`--commands` is `listen`'s phrase list): each card names the
    command that runs today."""
    import re

    n = len(_bench_listener_commands())
    for name in ("recognizer-en.stream.md", "recognizer-en.stream.int8.md"):
        text = " ".join((ROOT / "models" / name).read_text().split())
        asked = [int(k) for k in re.findall(r"bench_listener\.py --commands (\d+)", text)]
        if asked and max(asked) > n:
            assert f"`--commands {n}`" in text and f"refuses {max(asked)}" in text, name
        runs = [int(k) for k in re.findall(r"bench_listener\.py --utterances (\d+) --live --settings 400:200", text)]
        assert runs and max(runs) <= n, name
        if asked:
            assert "The option is `--utterances N` now" in text, name


def _mb(name: str, stated: str) -> str:
    """The size of models/NAME in MB (10^6 bytes) to as many decimals as `stated` has."""
    decimals = len(stated.split(".")[1]) if "." in stated else 0
    return f"{(ROOT / 'models' / name).stat().st_size / 1e6:.{decimals}f}"


def _flat(name: str) -> str:
    return " ".join((ROOT / "models" / name).read_text().split())


def test_detector_cards_describe_their_files():
    """The detector cards' model paragraph (parameters, size, bands, normalisation, step, smoothing, threshold,
    refractory time) is what the file's metadata and bytes say."""
    import re

    from speechseq.runtime.onnx import read_metadata

    for key in ("activate", "computer"):
        meta = read_metadata(ROOT / "models" / f"{key}.onnx")
        m = re.search(r"Conv1D \+ 2 x GRU detector \(([\d,]+) parameters, ([\d.]+) MB\), streamed on onnxruntime over "
                      r"(\d+) log-mel bands, each frame minus the mean of the last (\d+) frames .*? one posterior every "
                      r"(\d+) ms, smoothed over (\d+) steps; threshold \*\*([\d.]+)\*\*, refractory ([\d.]+) s\.",
                      _flat(f"{key}.md"))
        assert m is not None, key
        params, mb, bands, frames, step_ms, smoothing, threshold, refractory = m.groups()
        assert int(params.replace(",", "")) == meta["parameters"]
        assert mb == _mb(f"{key}.onnx", mb)
        assert int(bands) == meta["frontend"]["n_mels"] == meta["model_config"]["n_mels"]
        assert int(frames) == meta["model_config"]["norm_frames"]
        assert int(step_ms) == round(1000 * meta["step_s"])
        assert int(smoothing) == meta["smoothing_steps"]
        assert float(threshold) == meta["threshold"]
        assert float(refractory) == meta["refractory_s"]
        assert f"{meta['frontend']['floor']:g}" == "1e-06" and meta["model_config"]["hidden"] == 112


def test_recognizer_cards_describe_their_files():
    import onnx

    from speechseq.runtime.onnx import read_metadata

    rec, stream = _flat("recognizer-en.md"), _flat("recognizer-en.stream.md")
    meta = read_metadata(ROOT / "models" / "recognizer-en.onnx")
    cfg = meta["model_config"]
    assert (f"`recognizer-en.onnx` (fp32, {_mb('recognizer-en.onnx', '1.1')} MB) and `recognizer-en.int8.onnx` "
            f"(int8 dynamic quantisation, {_mb('recognizer-en.int8.onnx', '1.1')} MB)") in rec
    assert f"| parameters | {meta['parameters']:,} |" in rec
    assert f"CTC log-probabilities over {len(meta['vocabulary'])} symbols" in rec
    assert (f"Conv1d({cfg['n_mels']} -> {cfg['front_dim']}, kernel {cfg['kernel_size']}, stride {cfg['stride']})"
            in rec)
    assert f"{cfg['layers']} bidirectional LSTM layers, {cfg['hidden']} units per direction" in rec
    for name in ("recognizer-en.int8.onnx", "recognizer-en.stream.int8.onnx"):
        assert "quantization" in read_metadata(ROOT / "models" / name)
    assert "quantization" not in meta
    lstms = [n.op_type for n in onnx.load(str(ROOT / "models" / "recognizer-en.stream.int8.onnx")).graph.node
             if "LSTM" in n.op_type]
    assert set(lstms) == {"DynamicQuantizeLSTM"}
    assert (f"`recognizer-en.stream.onnx` (fp32, {_mb('recognizer-en.stream.onnx', '1.1')} MB) and "
            f"`recognizer-en.stream.int8.onnx` (int8 dynamic quantisation, all {len(lstms)} LSTM nodes quantised, "
            f"{_mb('recognizer-en.stream.int8.onnx', '1.1')} MB)") in stream
    s = read_metadata(ROOT / "models" / "recognizer-en.stream.onnx")
    k, st = s["kernel"], s["stride"]
    assert (f"chunk (1, {st}C, {cfg['n_mels']}) + lookahead (1, {st}R + {k - st}, {cfg['n_mels']}) log-mel frames, "
            f"h, c ({s['layers']}, 1, {s['hidden']})") in stream


def test_text_model_cards_describe_their_files():
    import json

    import numpy as np

    from speechseq.runtime.lexicon import load_lexicon
    from speechseq.runtime.onnx import read_metadata

    lm = read_metadata(ROOT / "models" / "lm-en.onnx")
    assert f"{lm['parameters']:,} parameters, {_mb('lm-en.onnx', '1.1')} MB (fp32)" in _flat("lm-en.md")
    assert f"A one-layer LSTM ({lm['model_config']['hidden']} units) over the {lm['model_config']['vocab_size']}-symbol" \
        in _flat("lm-en.md")
    dec = read_metadata(ROOT / "models" / "decoder-en.onnx")
    c = dec["model_config"]
    text = _flat("decoder-en.md")
    assert f"{dec['parameters']:,} parameters, {_mb('decoder-en.onnx', '1.1')} MB" in text
    assert (f"An LSTM decoder ({c['layers']} layer, {c['hidden']} units) with additive (Bahdanau) attention "
            f"({c['attn_dim']} dimensions)") in text
    assert f"a {c['embed_dim']}-dimensional `SharedEmbedding`" in text
    words = _flat("words-en.md")
    meta = json.loads(str(np.load(ROOT / "models" / "words-en.npz")["meta"]))
    assert (f"{meta['vocabulary']:,} words: {meta['vocabulary_from_text']:,} from the text, "
            f"{meta['vocabulary_from_background']:,} more from the general list") in words
    assert f"{_mb('words-en.npz', '1.11')} MB" in words
    u, b, t = meta["ngrams"]
    assert f"| n-grams | {u:,} unigrams, {b:,} bigrams, {t:,} trigrams |" in words
    assert "| discounts (1-, 2-, 3-gram) | " + ", ".join(f"{d:.3f}" for d in meta["discounts"]) + " |" in words
    assert f"({len(load_lexicon(ROOT / 'models' / 'words-en.npz').trie.word):,} nodes)" in words


def test_every_card_command_names_what_exists():
    """Each card's **Command:** names scripts that are in scripts/ or modules that `python -m` runs; README said every
    card names "the command in scripts/", where the streaming twins' is `python -m speechseq.train.export_streaming`."""
    import importlib.util
    import re

    modules = set()
    for md in sorted((ROOT / "models").glob("*.md")):
        if md.name.endswith(".card.md"):
            continue
        command = model_cards.card_fields(md)["command"]
        scripts = re.findall(r"scripts/(\w+\.py)", command)
        mods = re.findall(r"python -m ([\w.]+)", command)
        assert scripts or mods, md.name
        assert all((ROOT / "scripts" / s).is_file() for s in scripts), md.name
        assert all(importlib.util.find_spec(m) is not None for m in mods), md.name
        modules.update(mods)
    readme = " ".join((ROOT / "README.md").read_text().split())
    if modules:
        assert "with the command in `scripts/` that made it" not in readme
        assert "naming the `scripts/` command that made it" not in readme
