import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

# The suite's tensors are tiny: one intra-op thread avoids oversubscribing shared CI cores
# (measured here: a tiny UNet call took 1.3 s with 2 threads under load, 0.05 s with 1).
torch.set_num_threads(1)
