"""Application services shared by the CLI and the desktop app (no Qt, no argparse)."""
