"""The desktop app: the only package that imports PySide6.

A thin shell over the services below it: Qt item models adapt core objects,
widgets never run SQL or HTTP themselves, and long work (the engine, connection
tests) runs off the GUI thread and comes back through queued signals.
"""
