"""Fine-tuning open LLMs on synthetic patients (LoRA SFT) and checking them before/after on real
held-out cases: config (:mod:`.config`), examples (:mod:`.examples`), training (:mod:`.train`),
evaluation (:mod:`.evaluate`), cards (:mod:`.cards`) and the run's steps (:mod:`.run`).

The ``train`` extra (torch, transformers, peft, trl, datasets) is imported only inside the
functions that need it; the service never imports this package.
"""
