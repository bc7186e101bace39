"""The publish dialog's canary row: serve another version to a share of callers
(chosen by caller key) while the label's version serves the rest. Also the version
choices both the dialog and the row offer."""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QSpinBox, QWidget

from workbench.app.publishing import CANARY_PERCENT_DEFAULT
from workbench.core.models import PromptVersion
from workbench.registry.schemas import Canary, LabelTarget


def fill_versions(box: QComboBox, versions: list[PromptVersion]) -> None:
    """One item per version (number, author, message), its id as the item's data."""
    for v in versions:
        box.addItem(f"{v.display_number}  {v.author}: {v.message}", str(v.id))


def version_at(versions: list[PromptVersion], box: QComboBox) -> PromptVersion | None:
    """The version chosen in a box filled by ``fill_versions``."""
    index = box.currentIndex()
    return versions[index] if 0 <= index < len(versions) else None


class CanaryChooser(QWidget):
    """A tick box, the canary version and its share; ``changed`` on any change.
    Box and share are enabled only while the canary is ticked."""

    changed = Signal()

    def __init__(self, versions: list[PromptVersion]) -> None:
        super().__init__()
        self.versions = versions
        self.check = QCheckBox("Canary:")
        self.check.setToolTip(
            "Serve another version to a share of callers (by caller key) and the "
            "chosen version to the rest. Publishing without a canary ends one."
        )
        self.box = QComboBox()
        fill_versions(self.box, versions)
        self.percent = QSpinBox()
        self.percent.setRange(1, 99)
        self.percent.setValue(CANARY_PERCENT_DEFAULT)
        self.percent.setSuffix(" % of callers")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.check)
        row.addWidget(self.box, 1)
        row.addWidget(self.percent)
        self._enable(False)
        self.check.toggled.connect(self._toggled)
        self.box.currentIndexChanged.connect(lambda _i: self.changed.emit())
        self.percent.valueChanged.connect(lambda _v: self.changed.emit())

    def _enable(self, on: bool) -> None:
        self.box.setEnabled(on)
        self.percent.setEnabled(on)

    @Slot(bool)
    def _toggled(self, on: bool) -> None:
        self._enable(on)
        self.changed.emit()

    def chosen(self) -> PromptVersion | None:
        """The canary version, or None when no canary is ticked."""
        return version_at(self.versions, self.box) if self.check.isChecked() else None

    def target(self, version: PromptVersion) -> LabelTarget:
        """Where the label would point: ``version``, with the canary unless it is the
        version itself."""
        canary = self.chosen()
        split = None
        if canary is not None and canary.id != version.id:
            split = Canary(version_id=canary.id, percent=self.percent.value())
        return LabelTarget(version_id=version.id, canary=split)
