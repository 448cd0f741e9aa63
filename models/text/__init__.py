"""The text pipeline around the translator: what of a pasted text goes to the model, and how its
translation is put back into the text's own layout (``layout``), one sentence at a time
(``sentences``)."""
