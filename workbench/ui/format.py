"""Number formatting shared by every readout, so the same figure reads the same everywhere."""

from __future__ import annotations

from workbench.core.money import format_usd

ECHO_NOTE = "echo (not a real model)"


def fmt_ms(ms: float | None) -> str:
    if ms is None:
        return "–"
    # The cut-overs are where the rounded figure changes unit: 999.6 ms reads "1.00 s",
    # not "1000 ms" beside another row's "1.01 s".
    if ms >= 9_995:
        return f"{ms / 1000:.1f} s"
    if ms >= 999.5:
        return f"{ms / 1000:.2f} s"
    return f"{ms:.0f} ms"


def fmt_usd(usd: float | None) -> str:
    """Money as every screen and the CLI write it: :func:`workbench.core.money.format_usd`
    (the readouts import it under this name beside ``fmt_ms`` and ``fmt_tokens``)."""
    return format_usd(usd)


def fmt_tokens(n: int | None, estimated: bool = False) -> str:
    if n is None:
        return "–"
    return f"~{n:,}" if estimated else f"{n:,}"


def model_label(model: str, echo: bool) -> str:
    return f"{model}  [{ECHO_NOTE}]" if echo else model
