"""Settings: provider profiles (add, edit, test the connection, which lists the
server's models for Compare; keys go to the keychain on Save, typed once, never shown
again), the team registry (URL; token in the keychain the same way), default models,
concurrency, theme and vault location.

- :mod:`.dialog`: the dialog (:class:`SettingsDialog`) and its Save;
- :mod:`.providers`: the Providers page (profiles, keys, prices, model listings);
- :mod:`.registry`: the Registry page (URL, token, who you are);
- :mod:`.general`: the General page (defaults, theme, vault, budgets, telemetry).
"""

from workbench.ui.settings_dialog.dialog import SettingsDialog

__all__ = ["SettingsDialog"]
