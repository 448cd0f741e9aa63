"""Training and evaluating the translator. Commands (``python -m training.translation.<name>``):

- ``train``: fit a translator (one direction, or several in one network) and write its checkpoint;
- ``evaluate``: BLEU/chrF of a checkpoint on test files, the novel subsets beside the full split;
- ``average``: the mean of a run's weight snapshots, or its best checkpoint, as a checkpoint;
- ``directions``: every direction's dev/test splits and novel sets of a multilingual run;
- ``novelty``: which held-out sentences have no near-duplicate in training;
- ``plot_attention``: a translation's attention heatmap as a PNG.

The rest serves them: ``data`` (sentence pairs, splits, batches), ``vocab`` (SentencePiece),
``augment`` (source noise), ``metrics`` (BLEU by length, numbers and names kept), ``warm_start``
(``--init-from``).
"""
