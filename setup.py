"""The wheel carries the project's resources (dbt project, GX suites, trained models, DAG folder) inside the
package as `poverty_warning/_project/`, so a non-editable install (an Airflow image) needs no checkout.
Everything else is declared in pyproject.toml."""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

RESOURCES = ("dbt_project", "expectations", "models", "dags")
NOT_SHIPPED = shutil.ignore_patterns("target", "logs", "dbt_packages", "__pycache__", "*.pyc", ".user.yml")


class BuildPyWithResources(build_py):
    def run(self):
        super().run()
        bundled = Path(self.build_lib) / "poverty_warning" / "_project"
        for name in RESOURCES:
            shutil.rmtree(bundled / name, ignore_errors=True)
            shutil.copytree(Path(__file__).parent / name, bundled / name, ignore=NOT_SHIPPED)


setup(cmdclass={"build_py": BuildPyWithResources})
