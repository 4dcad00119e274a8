from __future__ import annotations

import pandas as pd
import pytest
from report_zoo import build_catalog, build_manifest


@pytest.fixture
def catalog() -> pd.DataFrame:
    return build_catalog()


@pytest.fixture
def manifest() -> dict:
    return build_manifest()
