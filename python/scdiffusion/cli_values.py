"""Values of the command line's options, parsed into what the Python API takes (:mod:`scdiffusion.cli`).

Each parser raises :class:`click.BadParameter` naming the flag and the form it expects.
"""

from __future__ import annotations

import click

from .errors import InputError


def parse_ints(ctx, param, value: str) -> list[int]:
    """``1024,1024,1024`` -> ``[1024, 1024, 1024]`` (a click callback)."""
    try:
        return [int(v) for v in value.split(",")]
    except ValueError:
        raise click.BadParameter(f"{value!r} is not comma-separated whole numbers") from None


def parse_pairs(values: tuple[str, ...], flag: str, convert=str) -> dict:
    """Repeated ``KEY=VALUE`` -> ``{KEY: convert(VALUE)}``; a key given twice is refused."""
    out: dict = {}
    for v in values:
        key, sep, value = v.partition("=")
        if not sep or not key or not value:
            raise click.BadParameter(f"{v!r} is not KEY=VALUE", param_hint=flag)
        if key in out:
            raise click.BadParameter(f"{key!r} given twice", param_hint=flag)
        try:
            out[key] = convert(value)
        except ValueError:
            raise click.BadParameter(f"{value!r} in {v!r} is not a number", param_hint=flag) from None
    return out


def parse_conditions(values: tuple[str, ...]) -> dict[str, str]:
    """Repeated ``--condition COL=LABEL`` -> ``{COL: LABEL}``."""
    try:
        return parse_pairs(values, "--condition")
    except click.BadParameter as err:
        raise click.BadParameter(str(err.message).replace("KEY=VALUE", "COL=LABEL"), param_hint="--condition") from None


def parse_scales(values: tuple[str, ...], flag: str = "--guidance-scale") -> float | dict[str, float]:
    """``--guidance-scale 2`` for all, or ``--guidance-scale COL=G`` per column (others: the default)."""
    if len(values) == 1 and "=" not in values[0]:
        try:
            return float(values[0])
        except ValueError:
            raise click.BadParameter(f"{values[0]!r} is not a number", param_hint=flag) from None
    return parse_pairs(values, flag, float)


def parse_steps(values: tuple[str, ...]) -> int | dict[str, int] | None:
    """``--max-steps N`` for every stage, or ``--max-steps STAGE=N``."""
    if not values:
        return None
    if len(values) == 1 and "=" not in values[0]:
        try:
            return int(values[0])
        except ValueError:
            raise click.BadParameter(f"{values[0]!r} is not a whole number", param_hint="--max-steps") from None
    return parse_pairs(values, "--max-steps", int)


def parse_stage(values: tuple[str, ...], stage: str) -> dict | None:
    """``--autoencoder OPTION=VALUE`` (repeatable): one training stage's options (:data:`scdiffusion.options.STAGE`),
    each converted to its declared kind and checked, e.g. ``--autoencoder select_by=split``."""
    from .options import STAGE

    flag = f"--{stage}"
    try:
        pairs = parse_pairs(values, flag)
    except click.BadParameter as err:
        raise click.BadParameter(str(err.message).replace("KEY=VALUE", f"OPTION=VALUE, e.g. {flag} eval_every=50"),
                                 param_hint=flag) from None
    unknown = [k for k in pairs if k not in STAGE]
    if unknown:
        raise click.BadParameter(f"Unknown training option(s) {unknown} of the {stage} stage. Options: "
                                 f"{[o.name for o in STAGE.options]}.", param_hint=flag)
    out = {}
    for key, text in pairs.items():
        try:
            out[key] = STAGE[key].from_text(text)
        except InputError as err:
            raise click.BadParameter(str(err), param_hint=flag) from None
    return out or None
