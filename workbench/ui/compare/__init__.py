"""Compare: versions x models x test cases, streamed into a grid, with totals, a
summary, charts, cell details and a diff between two cells' outputs.

- :mod:`.panel`: the tab (:class:`ComparePanel`) and the course of a run through it;
- :mod:`.setup_form`: the versions / models / test cases pickers and Run / Cancel;
- :mod:`.checklist`: the titled check-box lists those pickers are;
- :mod:`.grid_tools`: the filters, grouping and exports above the grid;
- :mod:`.estimate`: the calls-and-cost line shown before a run;
- :mod:`.memory`: the choices remembered between sessions;
- :mod:`.sizing`: the grid's column and row sizes (no number ever cut);
- :mod:`.results`: the Summary, Charts, Cell and Diff tabs below the grid.
"""

from workbench.ui.compare.panel import ComparePanel

__all__ = ["ComparePanel"]
