"""iqa_train: adversarial fine-tuning, NT regularisation, FCN-filter training."""
