"""Command line commands other than the demo: fit, recommend, evaluate.

Every command prints a one-line ``error: ...`` and exits with status 2 for the
problems a user can fix (missing file, missing column, unknown user, bad option,
unwritable output path).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from ._warmup import announce_compilation, time_without_compilation, watch_kernels
from .data import time_decay
from .persist import ModelFileError
from .recommender import Recommender

#: ``fit --negatives`` without ``--negative-mixing``: small, as the README advises (on
#: ml-100k, 0.1 moved held-out dislikes down while costing some precision on likes).
_DEFAULT_MIXING = 0.1


class CommandError(Exception):
    """A problem with the command's inputs, reported as one line."""


def _read_table(path: str, what: str) -> pd.DataFrame:
    file = Path(path)
    if not file.exists():
        raise CommandError(f"{what} file {path} does not exist")
    try:
        if file.suffix == ".parquet":
            return pd.read_parquet(file)
        return pd.read_csv(file)
    except ImportError as error:
        raise CommandError(f"reading {path} needs an optional package: {error}") from None
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise CommandError(f"cannot read {what} file {path}: {error}") from None


def _write_table(frame: pd.DataFrame, path: str | None) -> None:
    if path is None:
        frame.to_csv(sys.stdout, index=False)
        return
    file = Path(path)
    try:
        if file.suffix == ".parquet":
            frame.to_parquet(file, index=False)
        else:
            frame.to_csv(file, index=False)
    except ImportError as error:
        raise CommandError(f"writing {path} needs an optional package: {error}") from None
    print(f"wrote {len(frame)} rows to {path}", file=sys.stderr)


def _load(path: str) -> Recommender:
    if not Path(path).exists():
        raise CommandError(f"model file {path} does not exist")
    return Recommender.load(path)


def _parse_keys(text: str, keys: pd.Index) -> list:
    """Split ``u1,u2`` and convert to the model's key type where the keys are integers."""
    tokens = [token.strip() for token in text.split(",") if token.strip()]
    if not tokens:
        raise CommandError("--users is empty")
    if pd.api.types.is_integer_dtype(keys) or (
            len(keys) and all(isinstance(key, int) for key in keys[:1000])):
        try:
            return [int(token) for token in tokens]
        except ValueError:
            pass
    return tokens


_SPEC_OPTIONS = ("categorical", "numeric", "flags", "raw", "multi_valued")


def _feature_spec(args: argparse.Namespace, side: str) -> dict | None:
    """The FeatureEncoder arguments given as ``--<side>-<kind>`` options (None: type
    every column automatically)."""
    spec: dict = {}
    for kind in _SPEC_OPTIONS:
        columns = getattr(args, f"{side}_{kind}") or []
        if not columns:
            continue
        if kind == "multi_valued":
            spec[kind] = {}
            for entry in columns:
                column, _, separator = entry.partition("=")
                spec[kind][column] = separator or None
        else:
            spec[kind] = list(columns)
    if spec and args.n_bins is not None:
        spec["n_bins"] = args.n_bins
    return spec or None


def _known_dislikes(negatives: pd.DataFrame, interactions: pd.DataFrame,
                    features: dict[str, pd.DataFrame | None], user_col: str,
                    item_col: str) -> pd.DataFrame:
    """The dislikes the model can use: rows whose user and item are known (from the
    interactions or a feature file) and that are not also interactions; the others are
    reported on stderr and left out."""
    for column in (user_col, item_col):
        if column not in negatives.columns:
            raise CommandError(f"negatives file has no column {column!r} (the interactions' "
                               f"--user-col / --item-col); its columns are "
                               f"{list(negatives.columns)!r}")
    known = pd.Series(True, index=negatives.index)
    for side, column in (("user", user_col), ("item", item_col)):
        keys = pd.Index(interactions[column])
        if features[side] is not None and column in features[side].columns:
            keys = keys.append(pd.Index(features[side][column]))
        known &= negatives[column].isin(keys)
    liked = negatives.set_index([user_col, item_col]).index.isin(
        interactions.set_index([user_col, item_col]).index)
    unknown, both = int((~known).sum()), int((known & liked).sum())
    if unknown:
        print(f"note: {unknown} dislike(s) name users or items absent from the interactions "
              "and feature files; they were left out", file=sys.stderr)
    if both:
        print(f"note: {both} dislike(s) are also interactions (a pair cannot be both); "
              "they were left out", file=sys.stderr)
    return negatives[known & ~liked]


def _number_or_text(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def _describe_features(recommender: Recommender) -> None:
    """One line per feature column: how it was encoded (never a silent surprise)."""
    for side in ("user", "item"):
        encoder = getattr(recommender, f"{side}_encoder_")
        if encoder is None:
            continue
        for row in encoder.describe().itertuples(index=False):
            how = row.kind + (f" split on {row.separator!r}"
                              if isinstance(row.separator, str) else "")
            origin = "automatic" if row.automatic else "given"
            print(f"{side} feature column {row.column!r}: {how} ({origin}), "
                  f"{row.n_features} features", file=sys.stderr)


def fit_command(args: argparse.Namespace) -> int:
    """``fit``: train a Recommender on a CSV/Parquet file and save it."""
    interactions = _read_table(args.interactions, "interactions")
    user_features = (_read_table(args.user_features, "user features")
                     if args.user_features else None)
    item_features = (_read_table(args.item_features, "item features")
                     if args.item_features else None)
    negatives = _read_table(args.negatives, "negatives") if args.negatives else None
    for column in (args.user_col, args.item_col):
        if column not in interactions.columns:
            raise CommandError(f"interactions file has no column {column!r} (set --user-col "
                               f"/ --item-col); its columns are {list(interactions.columns)!r}")
    weight_col = args.weight_col
    if args.time_col is not None:
        if args.half_life is None:
            raise CommandError("--time-col needs --half-life (in the timestamps' unit, or a "
                               "duration such as 30D for datetimes)")
        half_life = _number_or_text(args.half_life)
        if args.time_col in interactions.columns and not (
                pd.api.types.is_numeric_dtype(interactions[args.time_col])
                or pd.api.types.is_datetime64_any_dtype(interactions[args.time_col])):
            try:  # dates in a CSV arrive as text
                interactions = interactions.assign(**{args.time_col: pd.to_datetime(
                    interactions[args.time_col])})
            except (ValueError, TypeError) as error:
                raise CommandError(f"--time-col {args.time_col!r} holds neither numbers nor "
                                   f"dates: {error}") from None
        interactions = time_decay(interactions, args.time_col, half_life,
                                  user_col=args.user_col, item_col=args.item_col,
                                  repeated=args.repeated, weight_col=weight_col,
                                  out_col="__weight__")
        weight_col = "__weight__"
    elif args.half_life is not None:
        raise CommandError("--half-life needs --time-col")
    if negatives is not None:
        negatives = _known_dislikes(negatives, interactions,
                                    {"user": user_features, "item": item_features},
                                    args.user_col, args.item_col)
    mixing = args.negative_mixing
    if mixing is None:  # dislikes given: train on them unless told otherwise
        mixing = _DEFAULT_MIXING if negatives is not None and args.loss != "logistic" else 0.0
    recommender = Recommender(loss=args.loss, no_components=args.components,
                              epochs=args.epochs, num_threads=args.threads,
                              random_state=args.seed, negative_mixing=mixing)
    # The first run on a machine compiles kernels: announce it when it starts, and report
    # the fit's time without it.
    with watch_kernels(on_first_compile=announce_compilation(sys.stderr)) as kernels:
        recommender.fit(interactions, user_col=args.user_col, item_col=args.item_col,
                        weight_col=weight_col, user_features=user_features,
                        item_features=item_features, verbose=True, negatives=negatives,
                        user_feature_spec=_feature_spec(args, "user"),
                        item_feature_spec=_feature_spec(args, "item"))
    _describe_features(recommender)
    path = recommender.save(args.out)
    print(f"trained on {len(interactions)} interactions: {len(recommender.user_mapper_)} "
          f"users, {len(recommender.item_mapper_)} items in "
          f"{time_without_compilation(kernels)}; saved to {path}", file=sys.stderr)
    return 0


def recommend_command(args: argparse.Namespace) -> int:
    """``recommend``: top-k items for some or all users of a saved model."""
    recommender = _load(args.model)
    users = None if args.all else _parse_keys(args.users, recommender.user_mapper_.keys)
    frame = recommender.recommend(users=users, k=args.k, exclude_seen=not args.include_seen)
    frame = frame.rename(columns={"user": recommender.user_col_, "item": recommender.item_col_})
    _write_table(frame, args.output)
    return 0


def evaluate_command(args: argparse.Namespace) -> int:
    """``evaluate``: ranking metrics of a saved model on held-out interactions."""
    recommender = _load(args.model)
    test = _read_table(args.test, "test")
    frame = recommender.evaluate(test, k=tuple(args.k))
    dropped = frame.attrs.get("dropped_rows", 0)
    if dropped:
        print(f"note: {dropped} test rows name users or items the model does not know and "
              "were left out", file=sys.stderr)
    print(frame.to_string(index=False))
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register fit, recommend and evaluate on the top-level parser's subcommands."""
    fit = commands.add_parser("fit", help="train on interactions from a CSV/Parquet file")
    fit.add_argument("interactions", help="CSV or Parquet file, one row per interaction")
    fit.add_argument("--user-col", default="user_id")
    fit.add_argument("--item-col", default="item_id")
    fit.add_argument("--weight-col", default=None)
    fit.add_argument("--time-col", default=None,
                     help="weight interactions by recency (needs --half-life)")
    fit.add_argument("--half-life", default=None,
                     help="weights halve after this long: in the timestamps' unit (e.g. "
                          "31536000 for a year of Unix seconds), or a duration such as 365D "
                          "for datetime columns")
    fit.add_argument("--repeated", default="sum", choices=["sum", "latest"],
                     help="a pair seen several times: sum of decayed weights, or latest")
    fit.add_argument("--user-features", help="CSV/Parquet, one row per user")
    fit.add_argument("--item-features", help="CSV/Parquet, one row per item")
    fit.add_argument("--loss", default="warp", choices=["warp", "bpr", "logistic", "warp-kos"])
    fit.add_argument("--components", type=int, default=32)
    fit.add_argument("--epochs", type=int, default=10)
    fit.add_argument("--threads", type=int, default=1)
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--negatives",
                     help="CSV/Parquet of disliked (user, item) pairs, in the same columns "
                          "as the interactions; learned as negative feedback")
    fit.add_argument("--negative-mixing", type=float, default=None,
                     help="probability that a sampled negative is one of the user's "
                          f"dislikes (default: {_DEFAULT_MIXING} with --negatives for "
                          "warp, warp-kos and bpr, else 0; logistic trains on the "
                          "dislikes as label-0 examples instead)")
    for side in ("user", "item"):
        kinds = fit.add_argument_group(
            f"{side} feature columns",
            f"How the columns of --{side}-features become features. Without any of these "
            "options every column is typed automatically (0/1 or boolean: a flag; numeric: "
            "quantile bins; strings joined by | ; or , such as 'Action|Comedy': split into "
            "one feature per value; other strings: categories). Once one is given, only the "
            "named columns are used.")
        kinds.add_argument(f"--{side}-categorical", nargs="+", metavar="COL",
                           help="one feature per distinct value")
        kinds.add_argument(f"--{side}-multi-valued", nargs="+", metavar="COL[=SEP]",
                           help="several values per cell, split on SEP (e.g. genres=|)")
        kinds.add_argument(f"--{side}-numeric", nargs="+", metavar="COL",
                           help="quantile bins (see --n-bins)")
        kinds.add_argument(f"--{side}-flags", nargs="+", metavar="COL",
                           help="boolean / 0-1 columns: one feature where true")
        kinds.add_argument(f"--{side}-raw", nargs="+", metavar="COL",
                           help="numeric value as the weight of one feature")
    fit.add_argument("--n-bins", type=int, default=None,
                     help="quantile bins per numeric column (default 5)")
    fit.add_argument("--out", required=True, help="model file to write (e.g. model.hrec)")
    fit.set_defaults(handler=fit_command)

    recommend = commands.add_parser("recommend", help="top-k items per user")
    recommend.add_argument("model")
    who = recommend.add_mutually_exclusive_group(required=True)
    who.add_argument("--users", help="comma-separated user keys")
    who.add_argument("--all", action="store_true", help="every user of the model")
    recommend.add_argument("-k", type=int, default=10)
    recommend.add_argument("--include-seen", action="store_true",
                           help="do not leave out the users' training items")
    recommend.add_argument("--output", help="CSV or Parquet file (default: stdout)")
    recommend.set_defaults(handler=recommend_command)

    evaluate = commands.add_parser("evaluate", help="ranking metrics on held-out data")
    evaluate.add_argument("model")
    evaluate.add_argument("test", help="CSV/Parquet with the training column names")
    evaluate.add_argument("-k", type=int, nargs="+", default=[10])
    evaluate.set_defaults(handler=evaluate_command)


def run(handler, args: argparse.Namespace) -> int:
    """Run a command, turning user-fixable errors into one line on stderr."""
    try:
        return handler(args)
    except (CommandError, ModelFileError, KeyError, ValueError, TypeError, OSError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"error: {message}", file=sys.stderr)
        return 2
