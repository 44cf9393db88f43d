"""The engine stands alone: importing it pulls in no web framework, no table reader, and
none of the data science libraries it works with (scikit-learn, pandas) but does not need."""

import subprocess
import sys
import textwrap


def test_importing_the_engine_does_not_import_dash_plotly_sklearn_pandas_or_dask():
    code = ("import zsom_core, sys; "
            "bad = [m for m in sys.modules "
            "       if m.split('.')[0] in ('dash', 'plotly', 'sklearn', 'pandas', 'dask', 'distributed')]; "
            "assert not bad, bad")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_importing_the_engine_does_not_import_the_table_readers():
    """``zsom_core.tables`` brings pandas (and through it pyarrow and openpyxl); ``import zsom_core`` must not."""
    code = ("import zsom_core, sys; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('pandas', 'pyarrow', 'openpyxl')]; "
            "assert not bad, bad; "
            "import zsom_core.tables; assert 'pandas' in sys.modules")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_the_estimators_scikit_learn_methods_import_neither_sklearn_nor_pandas():
    """Nor does an untrained map's error need scikit-learn: without it, a plain ValueError."""
    code = textwrap.dedent("""
        import sys
        import numpy as np
        from zsom_core import SOM

        X = np.random.default_rng(0).normal(size=(20, 3))
        som = SOM(3, 3, epochs=2, seed=0).fit(X, None)
        som.predict(X), som.transform(X), som.score(X), som.fit_predict(X), som.fit_transform(X)
        try:
            SOM().predict(X)
            raise AssertionError("an untrained map predicted")
        except ValueError as error:
            assert type(error) is ValueError, type(error)
        bad = [m for m in sys.modules if m.split(".")[0] in ("sklearn", "pandas")]
        assert not bad, bad
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr


def test_public_names():
    import zsom_core

    assert set(zsom_core.__all__) >= {"SOM", "Snapshot", "Grid", "Schedule"}


def test_no_kernel_uses_numba_parallel_layers():
    """Training jobs are forked and cores are shared: the engine parallelises on its own
    thread pool, so Numba's threading layer (OpenMP aborts in forked children) never runs."""
    from numba.core.registry import CPUDispatcher

    from zsom_core import kernels

    dispatchers = [value for value in vars(kernels).values() if isinstance(value, CPUDispatcher)]
    assert dispatchers
    assert not [kernel.py_func.__name__ for kernel in dispatchers if kernel.targetoptions.get("parallel")]
