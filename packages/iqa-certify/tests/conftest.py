import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
import torch

# The suite is small-tensor work on a shared machine: one thread avoids oversubscription stalls.
torch.set_num_threads(1)


@pytest.fixture
def generator() -> torch.Generator:
    return torch.Generator().manual_seed(1234)
