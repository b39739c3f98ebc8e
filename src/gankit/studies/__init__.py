"""Studies: many runs of one experiment (`gankit sweep`) and the page that compares them.

    load_study(name_or_file, full=False, sets=[...]) -> Study     spec.py
    sweep(study, out=..., storage=..., workers=N) -> study dir   sweep.py (Optuna in runner.py)
    load_results(study_dir) -> StudyResults                       results.py
    write_study_report(study_dir) -> report.html (+ summary.md)   report.py
"""

from gankit.launch.catalog import builtin_names
from gankit.studies.report import write_study_report
from gankit.studies.results import is_study_dir, load_results
from gankit.studies.runner import storage_name
from gankit.studies.spec import Study, load_study
from gankit.studies.sweep import sweep

__all__ = ["Study", "builtin_names", "is_study_dir", "load_results", "load_study", "storage_name", "sweep",
           "write_study_report"]
