"""The translator: an attention Seq2Seq network and everything that turns text into its output.

- ``rnn``, ``encoder``, ``attention``, ``decoder``, ``seq2seq``: the network (RNN/GRU/LSTM cells;
  Bahdanau, Luong dot/general or no attention; an optional copy gate);
- ``search``, ``nbest``: greedy and beam search, one decoding step at a time, and the ranking of
  a beam's finished hypotheses;
- ``tokenizer``: the SentencePiece model and input normalisation;
- ``translator``: a loaded checkpoint served as one model (text in; text, pieces and attention out).
"""
