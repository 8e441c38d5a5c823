"""iqa-attacks: adversarial attacks on NR-IQA metrics, behind the ``iqa_core.Attack`` contract.

Components are reached through the registry (``iqa_core.create("attack", "ifgsm")``).
"""

from .base import WhiteBoxAttack, project_linf
from .ifgsm import IFGSM
from .loss import attack_loss, attack_sign

__version__ = "0.1.0"

__all__ = ["IFGSM", "WhiteBoxAttack", "__version__", "attack_loss", "attack_sign", "project_linf"]
