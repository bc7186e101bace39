"""The editor's "Model defaults" tab: the model, its sampling settings, fallbacks and
the prompt's tags, as a form. A number left at its lowest value means "unset" (the
provider's default)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from workbench.core.models import ModelDefaults

PROVIDER_DEFAULT = "provider default"


def csv_items(text: str) -> tuple[str, ...]:
    """The non-empty, stripped items of a comma-separated field."""
    return tuple(p.strip() for p in text.split(",") if p.strip())


def _optional_spin(
    box: QDoubleSpinBox | QSpinBox, low: float, high: float, step: float, tip: str
) -> None:
    """The minimum (one step below the real range) stands for 'unset'."""
    box.setRange(low - step, high)  # type: ignore[arg-type]
    box.setSingleStep(step)  # type: ignore[arg-type]
    box.setSpecialValueText(PROVIDER_DEFAULT)
    box.setValue(low - step)  # type: ignore[arg-type]
    box.setToolTip(tip)


def _spin_value(box: QDoubleSpinBox | QSpinBox) -> Any:
    return None if box.value() == box.minimum() else box.value()


def _set_spin(box: QDoubleSpinBox | QSpinBox, value: float | None) -> None:
    box.setValue(box.minimum() if value is None else value)  # type: ignore[arg-type]


class ModelDefaultsForm(QWidget):
    """Edits a prompt's ``ModelDefaults`` and tags; ``changed`` fires on every edit."""

    changed = Signal()

    def __init__(self) -> None:
        super().__init__()
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.model = QLineEdit()
        self.model.setPlaceholderText("e.g. gpt-4o-mini")
        self.temperature = QDoubleSpinBox()
        self.temperature.setDecimals(2)
        _optional_spin(self.temperature, 0.0, 2.0, 0.05, "Sampling temperature, 0 to 2")
        self.max_tokens = QSpinBox()
        _optional_spin(self.max_tokens, 1, 1_000_000, 1, "Largest number of output tokens")
        self.top_p = QDoubleSpinBox()
        self.top_p.setDecimals(2)
        _optional_spin(self.top_p, 0.0, 1.0, 0.05, "Nucleus sampling, 0 to 1")
        self.stop = QLineEdit()
        self.stop.setPlaceholderText("comma-separated, e.g. ###, END")
        self.response_format = QComboBox()
        self.response_format.addItems([PROVIDER_DEFAULT, "text", "json_object"])
        self.fallbacks = QLineEdit()
        self.fallbacks.setPlaceholderText("profile:model, tried in order when the model fails")
        self.tags = QLineEdit()
        self.tags.setPlaceholderText("comma-separated, e.g. support, tone:formal")
        form.addRow("Model", self.model)
        form.addRow("Temperature", self.temperature)
        form.addRow("Max tokens", self.max_tokens)
        form.addRow("Top p", self.top_p)
        form.addRow("Stop", self.stop)
        form.addRow("Response format", self.response_format)
        form.addRow("Fallbacks", self.fallbacks)
        form.addRow("Tags", self.tags)
        for edit in (self.model, self.stop, self.fallbacks, self.tags):
            edit.textChanged.connect(self.changed)
        for spin in (self.temperature, self.top_p):
            spin.valueChanged.connect(self.changed)
        self.max_tokens.valueChanged.connect(self.changed)
        self.response_format.currentIndexChanged.connect(self.changed)

    def load(self, model: ModelDefaults, tags: tuple[str, ...]) -> None:
        """Show ``model`` and ``tags`` (``changed`` fires for each field set)."""
        self.model.setText(model.model or "")
        _set_spin(self.temperature, model.temperature)
        _set_spin(self.max_tokens, model.max_tokens)
        _set_spin(self.top_p, model.top_p)
        self.stop.setText(", ".join(model.stop))
        self.response_format.setCurrentText(model.response_format or PROVIDER_DEFAULT)
        self.fallbacks.setText(", ".join(model.fallbacks))
        self.tags.setText(", ".join(tags))

    def read(self) -> tuple[ModelDefaults, tuple[str, ...]]:
        """The model defaults and tags the fields describe; raises ``ValueError`` (a
        pydantic ``ValidationError``) when a field is invalid."""
        fmt = self.response_format.currentText()
        model = ModelDefaults(
            model=self.model.text().strip() or None,
            temperature=_spin_value(self.temperature),
            max_tokens=_spin_value(self.max_tokens),
            top_p=_spin_value(self.top_p),
            stop=csv_items(self.stop.text()),
            response_format=None if fmt == PROVIDER_DEFAULT else fmt,
            fallbacks=csv_items(self.fallbacks.text()),
        )
        return model, csv_items(self.tags.text())
