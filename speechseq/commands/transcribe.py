"""`speechseq transcribe`: speech to text for audio files of any length.

    speechseq transcribe talk.flac
    speechseq transcribe recordings/ --format json > transcripts.jsonl
    speechseq transcribe a.wav b.mp3 --decoder beam --beam-size 8 --format srt --output-dir subs/
    speechseq transcribe talk.wav --decoder lexicon --lexicon models/words-en.npz
    speechseq transcribe command.wav --commands data/commands/home.txt

With --format json and no --output-dir, one JSON object per file on stdout, exactly
    {"file": str, "duration": float, "text": str,
     "words": [{"word": str, "start": float, "end": float, "confidence": float}]}
and with --commands one more key, last: "commands": [{"command": str, "start": float, "end": float}], each
phrase of the list taken, as the list writes it, with its words' span, in order ([] when none was); the words said
before or after a phrase in its stretch of speech stay in "text" and "words", spelt freely.
A file that cannot be read is reported on stderr and the others go on; the exit code is then 1.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path

from ..errors import SpeechseqError
from ..files import one_line
from ..runtime.settings import LM_WEIGHT, WORD_BONUS  # --lm-weight, --word-bonus (beam-lm, rescore): the tuned ones
from .common import (IMAGE_SUFFIXES, MODELS, WEIGHT_MAX, HelpFormatter, beam_arg, beam_size, bounded, cpu_threads,
                     decoder_fits, expand_inputs, beside_bars, load_lexicon_arg, load_lm, names_stdout, no_shipped,
                     option_file, option_files, output_dir, output_file, print_json_line, said_with,
                     tuned_lexicon_options, unnamed_model, warn, write_report)

DEFAULT_MODEL = MODELS / "recognizer-en.onnx"
DEFAULT_LEXICON = MODELS / "words-en.npz"
FORMATS = ("txt", "json", "srt", "vtt")
# the most --command-bound may be (nats per character; the default, MAX_DEFICIT, is 2). At 100 every utterance
# measured passes the bound, as at 1e308 (the order test, MIN_ORDER, still decides; home.txt or the ten digits as the
# list, the shipped recogniser: the best phrase's deficit was at most 87.0 on Kathleen's 131 dev sentences, 15.6 on
# 300 FSDD digits, 10.4 on 3 s of silence)
COMMAND_BOUND_MAX = 100.0


EXAMPLES = """examples:
  speechseq transcribe talk.flac                      # lexicon + LMs, only where the VAD hears speech
  speechseq transcribe recordings/ --format srt --output-dir subtitles
  speechseq transcribe talk.wav --decoder greedy --vad off --format json
  speechseq transcribe command.wav --commands data/commands/home.txt   # one of these phrases, or free text
  speechseq transcribe data/samples/activate_kitchen_lights.wav --plot heard.png   # words over the spectrogram"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("transcribe", epilog=EXAMPLES, help="speech to text for audio files",
                       description="Transcribe audio files of any length with a CTC recogniser; long files are cut "
                                   "at pauses into utterances of at most --max-segment seconds. Words come with "
                                   "start and end times and a confidence. With --commands, stretches of speech a "
                                   "pause splits are also tried together as one phrase (a few seconds of them).",
                       formatter_class=HelpFormatter)
    p.add_argument("files", nargs="+", metavar="FILE", help="audio files (WAV/FLAC/OGG/MP3) or directories")
    p.add_argument("--model", default=str(DEFAULT_MODEL), help="recogniser .onnx")
    p.add_argument("--decoder", choices=("auto", "greedy", "beam", "beam-lm", "rescore", "lexicon"), default="auto",
                   help="CTC decoding: best path, prefix beam search, + character LM (shallow fusion), "
                        "+ LM and attention-decoder rescoring of the n-best, or lexicon: beam search kept to "
                        "the words of --lexicon with its word trigram LM; auto: the most accurate the "
                        "model files allow: lexicon with the character LM fused and the weights tuned in "
                        "models/words-en.md when --lexicon exists, else rescore when the --attention-decoder was "
                        "trained on this recogniser, else beam-lm when --lm exists, else greedy")
    p.add_argument("--beam-size", type=beam_arg, default="auto",
                   help="beam width; auto: 64 for the lexicon search, 8 for beam, beam-lm, rescore")
    p.add_argument("--lm", default=str(MODELS / "lm-en.onnx"), help="character LM (beam-lm, rescore; lexicon with "
                                                                  "--char-lm-weight, and --decoder auto)")
    p.add_argument("--lm-weight", type=bounded(float, ge=0, le=WEIGHT_MAX), default=LM_WEIGHT,
                   help="alpha: weight of log P_lm (beam-lm, rescore; tuned in models/lm-en.md; listen --decoder "
                        "beam fuses at the same weights)")
    p.add_argument("--word-bonus", type=bounded(float, ge=-WEIGHT_MAX, le=WEIGHT_MAX), default=WORD_BONUS,
                   help="beta: bonus per character (beam-lm, rescore)")
    add_lexicon_args(p)
    p.add_argument("--attention-decoder", default=str(MODELS / "decoder-en.onnx"),
                   help="attention decoder (rescore, --plot-attention); needs a recogniser with encoder_out")
    p.add_argument("--plot-attention", metavar="PNG", help="draw the attention over the spectrogram of the "
                                                         "first --max-segment seconds of the first file (not -: a "
                                                         "picture is not written to standard output)")
    p.add_argument("--plot", metavar="PNG", help="draw what the recogniser heard in the first file read (only the "
                                                 "first, of several): its log-mel spectrogram with each word over "
                                                 "its span, shaded by its confidence, and each command taken "
                                                 "(--commands), above the CTC posteriors of the blank and of the best "
                                                 "other symbol (.png, .pdf, .svg, ...; not -)")
    p.add_argument("--format", choices=FORMATS, default="txt",
                   help="output format; json: one object a file, {file, duration, text, words}, and with --commands "
                        "\"commands\" after them: each phrase of the list taken, as the list writes it, with the "
                        "start and end (s) of its words, in order ([] when none was)")
    p.add_argument("--output-dir", metavar="DIR", help="write one FILE_STEM.FORMAT per input here instead of stdout, "
                                                       "each named on stderr (\"wrote DIR/NAME\") as it is written "
                                                       "(-: stdout, as without it)")
    p.add_argument("--max-segment", type=bounded(float, ge=1), default=20.0,
                   help="longest utterance (s) before a cut at a pause")
    add_vad_arg(p, "auto")
    p.add_argument("--threads", type=bounded(int, ge=1), default=1,
                   help="onnxruntime threads (more than the CPUs here are taken as that many)")
    add_commands_args(p, around=True)
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar on stderr, in seconds of audio (default: when stderr is a terminal)")
    p.set_defaults(func=run)


def add_lexicon_args(p: argparse.ArgumentParser) -> None:
    """The options of --decoder lexicon (shared with `speechseq eval recognizer`)."""
    from ..runtime.settings import LexiconOptions

    d = LexiconOptions  # the class's defaults: an instance's checks import numpy, which --help does without
    g = p.add_argument_group("--decoder lexicon")
    g.add_argument("--lexicon", default=str(DEFAULT_LEXICON),
                   help="word list + word trigram LM (.npz); none: no lexicon")
    g.add_argument("--word-lm-weight", type=bounded(float, ge=0, le=WEIGHT_MAX), default=d.word_weight,
                   help="weight of the word LM's ln P")
    g.add_argument("--word-insertion-bonus", type=bounded(float, ge=-WEIGHT_MAX, le=WEIGHT_MAX), default=d.word_bonus,
                   help="bonus per word")
    g.add_argument("--oov-penalty", type=bounded(float, ge=0, le=WEIGHT_MAX), default=d.oov_penalty,
                   help="cost of a word that is not in the lexicon (higher: fewer such words)")
    g.add_argument("--char-lm-weight", type=bounded(float, ge=0, le=WEIGHT_MAX), default=d.char_weight,
                   help="also fuse the character LM --lm with this weight (0: not used)")
    g.add_argument("--char-bonus", type=bounded(float, ge=-WEIGHT_MAX, le=WEIGHT_MAX), default=d.char_bonus,
                   help="bonus per character, with --char-lm-weight only")


def add_commands_args(p: argparse.ArgumentParser, around: bool = False) -> None:
    """--commands FILE and --command-bound (speechseq.runtime.command_set); around: the words said around a phrase
    are kept (DecodeOptions.words_around, transcribe)."""
    from ..runtime.settings import MAX_DEFICIT

    g = p.add_argument_group("commands")
    kept = (", the words said before or after it in the same stretch of speech as the decoder spells them"
            if around else "")
    g.add_argument("--commands", metavar="FILE",
                   help="a list of phrases, one a line ('#' starts a comment): an utterance close enough to one "
                        "of them is written as that phrase (its words as the recogniser spells them: '5' as 'five', "
                        f"lower case), timed on the audio{kept}; any other as the decoder spells it (README, "
                        "Commands)")
    g.add_argument("--command-bound", type=bounded(float, ge=0, le=COMMAND_BOUND_MAX), default=MAX_DEFICIT,
                   help="how far below the audio's own best spelling a phrase may score and still be taken, in nats "
                        "per character: higher takes more phrases, and more wrong ones (scripts/eval_commands.py "
                        f"measures both); at most {COMMAND_BOUND_MAX:g}")


def command_set(args: argparse.Namespace, options: bool = True):
    """The CommandSet of --commands (None without it); one line naming --commands for a list that cannot be read, or
    an empty path (an unset variable: not every utterance spelt freely without a word). options: False, the list
    said alone (speechseq.load_listener's commands=, which checks for an empty path in its own words)."""
    if args.commands is None:
        return None
    if not args.commands:
        raise SpeechseqError("--commands '': an empty path names no command list")
    from ..runtime.command_set import CommandSet

    try:
        return CommandSet.load(args.commands, args.command_bound)
    except SpeechseqError as err:  # each of its lines starts with the path: named with its option, as every input
        raise SpeechseqError(f"--commands {err}" if options else str(err)) from None


def add_vad_arg(p: argparse.ArgumentParser, default: str) -> None:
    p.add_argument("--vad", choices=("auto", "silero", "energy", "off"), default=default,
                   help="recognise only where a voice activity detector hears speech (auto: Silero when "
                        "installed, else the energy VAD); silence and noise then give no words. "
                        f"off: recognise everything (default: {default})")


def make_vad(kind: str, threads: int = 1):
    """The --vad choice as a speechseq.runtime.vad.Vad, or None for off."""
    if kind == "off":
        return None
    from ..runtime.onnx import ModelError
    from ..runtime.vad import load_vad

    try:
        return load_vad(kind, threads=threads)
    except ModelError as err:
        raise SpeechseqError(str(err)) from None


def lexicon_decode_options(args: argparse.Namespace, tuned: bool = False, options: bool = True):
    """runtime.recognizer.DecodeOptions for --decoder lexicon (loads the lexicon, and the
    character LM when --char-lm-weight is not 0). tuned (--decoder auto): the weights of
    models/words-en.md instead of the options, with the character LM when --lm exists. options: as decoding's."""
    from ..runtime.lexicon_search import LexiconOptions
    from ..runtime.recognizer import DecodeOptions

    lm_option, lexicon_option = said_with("--lm", options), said_with("--lexicon", options)
    if tuned:
        if options:  # an LM that is not there is left out, but '' or '-' names none: said, not left out in silence
            unnamed_model(args.lm, "--lm")
        lm = load_lm(args.lm, args.threads, lm_option) if Path(args.lm).is_file() else None
        return tuned_lexicon_options(Path(args.lexicon), lm, args.beam_size, lexicon_option)
    lm = None
    if args.char_lm_weight != 0:
        if options:
            unnamed_model(args.lm, "--lm")
        if not Path(args.lm).is_file():
            raise SpeechseqError(f"{args.lm}: no such model file (pass --lm PATH, or --char-lm-weight 0)")
        lm = load_lm(args.lm, args.threads, lm_option)
    try:
        lex_opts = LexiconOptions(args.beam_size, args.word_lm_weight, args.word_insertion_bonus, args.oov_penalty,
                                  args.char_lm_weight, args.char_bonus)
    except ValueError as err:
        raise SpeechseqError(str(err)) from None
    return DecodeOptions(decoder="lexicon", beam_size=args.beam_size, lm=lm,
                         lexicon=load_lexicon_arg(args.lexicon, lexicon_option), lexicon_options=lex_opts)


def _timestamp(t: float, sep: str) -> str:
    ms = int(round(max(0.0, t) * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def cues(words, line_chars: int = 42, max_lines: int = 2, max_s: float = 6.0,
         max_gap_s: float = 0.8) -> list[tuple[float, float, str]]:
    """Subtitle cues (start, end, text): words fill lines of at most line_chars (a longer word has a line
    of its own), and a cue closes when it would need more than max_lines lines, last past max_s, or at a
    pause over max_gap_s. Lines are joined by a newline, as SRT and WebVTT write them."""
    out, lines, first, last = [], [], None, None

    def close():
        out.append((first.start, last.end, "\n".join(lines)))

    for w in words:
        if lines:
            fits = len(lines[-1]) + 1 + len(w.word) <= line_chars
            if (not fits and len(lines) == max_lines) or w.end - first.start > max_s or w.start - last.end > max_gap_s:
                close()
                lines = []
            elif fits:
                lines[-1] += " " + w.word
                last = w
                continue
        if not lines:
            first = w
        lines.append(w.word)
        last = w
    if lines:
        close()
    return out


def render(transcript, path: Path, fmt: str, commands: bool = False) -> str:
    """The text of one file's output in `fmt` (commands: with --commands, JSON's "commands")."""
    if fmt == "txt":
        return transcript.text + "\n"
    if fmt == "json":
        from ..audio import path_text

        return json.dumps(transcript.to_json(path_text(path), commands), ensure_ascii=False) + "\n"
    lines = ["WEBVTT", ""] if fmt == "vtt" else []
    sep = "." if fmt == "vtt" else ","
    for k, (a, b, text) in enumerate(cues(transcript.words), 1):
        if fmt == "srt":
            lines.append(str(k))
        lines += [f"{_timestamp(a, sep)} --> {_timestamp(b, sep)}", text, ""]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from ..audio import path_text

    args.threads = cpu_threads(args.threads)
    check_model_arg(args.model, DEFAULT_MODEL, "--model")
    check_lexicon_arg(args.lexicon, DEFAULT_LEXICON, args.decoder)
    output_file(args.plot_attention, "--plot-attention", IMAGE_SUFFIXES)
    output_file(args.plot, "--plot", IMAGE_SUFFIXES)   # before any work, so that a bad path loses nothing
    if args.plot and args.plot_attention and Path(args.plot).resolve() == Path(args.plot_attention).resolve():
        raise SpeechseqError(f"--plot and --plot-attention both name {args.plot}: one would overwrite the other")
    out_dir = (output_dir(args.output_dir, "--output-dir") if args.output_dir is not None
               and not names_stdout(args.output_dir) else None)
    commands = command_set(args)
    asked = args.decoder
    tuned = resolve_decoder(args)
    unread_options(args, asked, tuned)
    rec, opts = decoding(args, tuned, commands, asked)
    if args.plot_attention:
        check_plot_decoder(args, rec)
    vad = make_vad(args.vad, args.threads)
    first = None  # (path, transcript, KeptLogProbs or None) of the first file read, for --plot and --plot-attention
    skipped: list[str] = []
    files = expand_inputs(args.files, skipped=skipped)
    names = output_names(files, args.format) if out_dir is not None else []
    for name in names:  # found before the work: it would stop the batch after the files before it
        if (out_dir / name).is_dir():
            raise SpeechseqError(f"--output-dir {out_dir / name}: is a directory, not a file (move it, or pick "
                                 "another --output-dir)")
    if out_dir is None and args.format in ("srt", "vtt") and len(files) > 1:
        raise SpeechseqError(f"--format {args.format} for {len(files)} files needs --output-dir (one subtitle file each: "
                             "one stream of them could not say which cue is whose)")
    show = sys.stderr.isatty() if args.progress is None else args.progress
    lengths, before = [], 0.0  # lengths: each file's seconds (header); before: those of the files done
    shown_bar = nullcontext()
    if show:
        from tqdm import tqdm

        lengths = header_seconds(files)
        shown_bar = tqdm(total=round(sum(lengths)), unit="s", file=sys.stderr, desc="transcribing")
    failed, audio_s, t0 = 0, 0.0, time.perf_counter()
    # closed however the loop ends: an error or Ctrl+C was said after the bar's text, and the bar drawn again under it
    with shown_bar as bar:
        for k, path in enumerate(files):
            if bar is not None:
                bar.set_postfix_str(path.name[-30:])

                def on_segment(seg, _bar=bar, _name=path.name, _before=before):
                    advance(_bar, _before + seg.end)  # piece by piece
                    _bar.set_postfix_str(_name[-30:])  # (and shown: update() alone shows at most ten a second)
            else:
                on_segment = None
            kept = kept_log_probs(rec) if args.plot and first is None else None   # what --plot draws
            try:
                t = rec.transcribe_file(path, opts, args.max_segment, on_segment, vad)
            except SpeechseqError as err:  # one bad file is reported; the rest go on
                warn(str(err))
                failed += 1
                if bar is not None:
                    before += lengths[k]
                    advance(bar, before)
                continue
            finally:
                if kept is not None:
                    kept.stop()
            audio_s += t.duration
            if first is None:
                first = (path, t, kept)
            if out_dir is not None:
                write_report(out_dir / names[k], render(t, path, args.format, commands is not None))
                with beside_bars():  # said as each is written (on stderr, as the other commands' "wrote")
                    print(f"wrote {one_line(str(out_dir / names[k]))}", file=sys.stderr)
            else:
                with beside_bars():
                    if args.format == "json":
                        print_json_line(t.to_json(path_text(path), commands is not None))
                    elif args.format == "txt":
                        sys.stdout.write((f"{one_line(path_text(path))}: " if len(files) > 1 else "") + t.text + "\n")
                    else:
                        sys.stdout.write(render(t, path, args.format) + "\n")
                    sys.stdout.flush()
            if bar is not None:
                before += lengths[k]
                advance(bar, before)
    elapsed = time.perf_counter() - t0
    if audio_s > 0 and show:
        print(f"{len(files) - failed} file(s), {audio_s:.1f} s of audio in {elapsed:.1f} s "
              f"(real-time factor {elapsed / audio_s:.3f})", file=sys.stderr)
    if args.plot_attention and first is not None:
        from ..runtime.text_decoder import plot_attention_for_file

        Path(args.plot_attention).parent.mkdir(parents=True, exist_ok=True)  # as the other commands' plots
        plot_attention_for_file(args, first[0], plotted_text(first[1], args.max_segment))
        print(f"wrote {args.plot_attention}", file=sys.stderr)
    unplotted = plot_first(args.plot, rec, first, len(files)) if args.plot else 0   # (no file the less transcribed)
    if failed and len(files) > 1:  # one file's own line says it all (README: one line for a bad file)
        warn(f"{failed} of {len(files)} file(s) could not be transcribed")
    return 1 if failed or skipped or unplotted else 0


def kept_log_probs(rec):
    """A transcript_plot.KeptLogProbs on `rec` (until its stop): --plot draws the log-probs transcribe decodes, not
    those of the recogniser run again over the file."""
    from .transcript_plot import KeptLogProbs

    return KeptLogProbs(rec)


def plot_first(out: str, rec, first, n_files: int) -> int:
    """--plot: what `rec` heard in the first file read (`first`: (path, its Transcript, the KeptLogProbs of its
    transcription or None), or None when none was), said on stderr as detect --plot says it; 1 where it could not be
    written (said), else 0."""
    if first is None:
        warn(f"--plot {out}: not written (no file was read)")
        return 0
    from ..audio import path_text
    from .transcript_plot import plot_transcript

    path, transcript, kept = first
    try:
        plot_transcript(rec, path, transcript, out, None if kept is None else kept.log_probs)
    except (OSError, ValueError, SpeechseqError) as err:
        warn(f"--plot {out}: not written ({err})")
        return 1
    name = one_line(path_text(path.name))
    print(f"wrote {out}" + (f" (of {name}: the first file read; the others are not drawn)" if n_files > 1 else ""),
          file=sys.stderr)
    return 0


def resolve_decoder(args: argparse.Namespace, options: bool = True) -> bool:
    """args.decoder with auto resolved (the lexicon search where --lexicon is a file, else the best of
    runtime.text_decoder.best_available); True where auto chose the lexicon search with the weights tuned in
    models/words-en.md (speechseq.load_recognizer decodes so too). options: as decoding's."""
    if args.decoder == "auto" and args.lexicon != "none" and Path(args.lexicon).is_file():
        args.decoder = "lexicon"
        return True
    if args.decoder == "auto":
        from ..runtime.text_decoder import best_available

        if options:  # a file that is not there is left out, but '' or '-' names none: said, not left out in silence
            unnamed_model(args.lm, "--lm")
            unnamed_model(args.attention_decoder, "--attention-decoder")

        with model_files(args, options):  # it opens the recogniser and the attention decoder
            args.decoder = best_available(args.model, args.lm, args.attention_decoder)
    return False


def decoding(args: argparse.Namespace, tuned: bool, commands, asked: str, options: bool = True) -> tuple:
    """(recogniser, DecodeOptions or None) for args.decoder (resolved: resolve_decoder; args.beam_size set from it),
    --commands' CommandSet `commands` (or None) taken with the words around a phrase; asked: --decoder as given.
    options: a model file's error names it with its option (--model PATH: ...); False: the file alone
    (speechseq.load_recognizer, which checks the beam size and the files' presence first, in its own words)."""
    from ..runtime.recognizer import DecodeOptions, Recognizer

    args.beam_size = beam_size(args.beam_size, args.decoder)
    if args.decoder in ("greedy", "beam"):
        with option_file(said_with("--model", options), args.model, "recognizer"):
            rec = Recognizer(args.model, threads=args.threads)
        opts = DecodeOptions(decoder=args.decoder, beam_size=args.beam_size)
    elif args.decoder == "lexicon":
        opts = lexicon_decode_options(args, tuned, options)
        with option_file(said_with("--model", options), args.model, "recognizer"):
            rec = Recognizer(args.model, threads=args.threads)
    else:  # the text side (speechseq.runtime.text_decoder): LM fusion, attention rescoring
        if options:  # '' or '-': said as such, not as ": no such model file"
            unnamed_model(args.lm, "--lm")
            if args.decoder == "rescore":
                unnamed_model(args.attention_decoder, "--attention-decoder")
        if commands is not None:
            picked = (f"--decoder auto picks {args.decoder} here, without a lexicon" if asked == "auto"
                      else f"not {args.decoder}")
            raise SpeechseqError(f"--commands works with --decoder greedy, beam or lexicon ({picked})")
        from ..runtime.text_decoder import cli_recognizer

        with model_files(args, options):  # the three load inside (speechseq.runtime.text_decoder)
            rec, opts = cli_recognizer(args, options), None
    if commands is not None:
        opts = replace(opts, commands=commands, words_around=True)   # the words said around a phrase kept
    return rec, opts


def header_seconds(files: list[Path]) -> list[float]:
    """Each file's length in seconds as its header gives it (0 for a file that cannot be read: it is reported when its
    turn comes, and so is a file cut short: it was said to be truncated here too), for the progress bar, which counts
    seconds of audio: counting files, it stood at 0/1 for the whole of a long lecture."""
    from ..audio import audio_info

    out = []
    for f in files:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out.append(audio_info(f).duration)
        except SpeechseqError:
            out.append(0.0)
    return out


def advance(bar, seconds: float) -> None:
    """The progress bar to `seconds` of audio done, in whole seconds: never back, never past its total (a header
    that gives the length wrong)."""
    bar.update(max(0, min(bar.total, round(seconds)) - bar.n))


def unread_options(args: argparse.Namespace, asked: str, tuned: bool) -> None:
    """A warning naming the options given (other than their defaults) that args.decoder does not read: they would
    change nothing, in silence (so would --char-bonus without the --char-lm-weight it goes with). asked: --decoder as
    given; when auto, args.decoder is its choice, and `tuned` says it is the lexicon search with the weights of
    models/words-en.md."""
    from ..runtime.lexicon_search import LexiconOptions

    d, dec = LexiconOptions(), args.decoder
    unread = []
    if args.beam_size is not None and dec == "greedy":
        unread.append("--beam-size")
    if dec not in ("beam-lm", "rescore"):
        unread += [flag for flag, value, default in (("--lm-weight", args.lm_weight, LM_WEIGHT),
                                                     ("--word-bonus", args.word_bonus, WORD_BONUS)) if value != default]
    if dec != "lexicon" or tuned:
        unread += [flag for flag, value, default in (
            ("--word-lm-weight", args.word_lm_weight, d.word_weight),
            ("--word-insertion-bonus", args.word_insertion_bonus, d.word_bonus),
            ("--oov-penalty", args.oov_penalty, d.oov_penalty),
            ("--char-lm-weight", args.char_lm_weight, d.char_weight),
            ("--char-bonus", args.char_bonus, d.char_bonus)) if value != default]
        if dec != "lexicon" and args.lexicon not in ("none", str(DEFAULT_LEXICON)):
            unread.append("--lexicon")
    if unread:
        how = ("auto (here the lexicon search with the weights tuned in models/words-en.md; --decoder lexicon "
               "takes them from the options)" if tuned else f"auto (here {dec})" if asked == "auto" else dec)
        warn(f"{', '.join(unread)}: not used by --decoder {how}")
    if dec == "lexicon" and not tuned and args.char_lm_weight == 0 and args.char_bonus != d.char_bonus:
        # the lexicon search adds the bonus only beside the character LM's scores: alone it changed nothing
        warn("--char-bonus: not used with --char-lm-weight 0 (give --char-lm-weight W to fuse the character LM --lm)")


def check_plot_decoder(args: argparse.Namespace, rec) -> None:
    """--plot-attention: the --attention-decoder must be there and read `rec`'s encoder_out, found before the work
    (it was found after the whole batch)."""
    from ..runtime.attention import OnnxDecoder

    with option_file("--attention-decoder", args.attention_decoder, "attention-decoder"):
        decoder = OnnxDecoder(args.attention_decoder, args.threads)
    decoder_fits(args.model, rec, decoder, "--attention-decoder")


def model_files(args: argparse.Namespace, options: bool = True):
    """common.option_files for the recogniser, LM and attention decoder that transcribe's options name (an error of
    one of them said with its option; options=False: the file alone, as decoding's)."""
    return option_files(*[(said_with(option, options), path, kind) for option, path, kind in (
        ("--model", args.model, "recognizer"), ("--lm", args.lm, "lm"),
        ("--attention-decoder", args.attention_decoder, "attention-decoder"))])


def plotted_text(transcript, seconds: float) -> str:
    """The words of the stretch --plot-attention draws (the first `seconds` of the file, however the VAD or the
    cuts at pauses split it into segments): those whose middle lies in it."""
    return " ".join(w.word for w in transcript.words if (w.start + w.end) / 2 < seconds)


def check_model_arg(path: str, default: Path | None, option: str) -> None:
    """A model file that `option` names must be there, found before the work: the shipped one (`default`; None for an
    option without one) missing names the folder it was looked for in and SPEECHSEQ_MODELS, as detect and listen say
    it; another path is named with the option."""
    from ..runtime.onnx import missing_model

    p = Path(path)
    if p.is_file():
        return
    unnamed_model(path, option)
    if default is not None and path == str(default) and not p.is_dir():
        raise SpeechseqError(f"pass {option} PATH: {no_shipped('no ' + default.name, default.parent)}")
    raise SpeechseqError(f"{missing_model(p)} (pass {option} PATH)")


def check_lexicon_arg(lexicon: str, default: Path, decoder: str) -> None:
    """--lexicon: a path named by the user must exist (a typo must not change the decoder in silence); the
    shipped default may be absent; "none" turns the lexicon off, which --decoder lexicon cannot do without."""
    if lexicon == "none":
        if decoder == "lexicon":
            raise SpeechseqError("--decoder lexicon needs a lexicon, and --lexicon is none")
    elif lexicon != str(default) and not Path(lexicon).is_file():
        raise SpeechseqError(f"--lexicon {lexicon}: no such file (--lexicon none: no lexicon)")


def output_names(files: list[Path], fmt: str) -> list[str]:
    """--output-dir's file name for each input, in order: STEM.FORMAT, or, where inputs share a stem (a.wav and
    a.flac, a.wav in two folders, or one file given twice), STEM-2.FORMAT and so on in input order, with a warning,
    so none is overwritten."""
    by_stem: dict[str, list[int]] = {}
    for i, f in enumerate(files):
        by_stem.setdefault(f.stem, []).append(i)
    taken = {f"{stem}.{fmt}" for stem in by_stem}
    out = [""] * len(files)
    for stem, group in by_stem.items():
        out[group[0]] = f"{stem}.{fmt}"
        k = 1
        for i in group[1:]:
            k += 1
            while f"{stem}-{k}.{fmt}" in taken:
                k += 1
            taken.add(name := f"{stem}-{k}.{fmt}")
            out[i] = name
            warn(f"{one_line(str(files[i]))}: its stem is another input's too: written as {one_line(name)}")
    return out
