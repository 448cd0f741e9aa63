"""Networks, decoding, tokenizer and checkpoint format shared by training/ and app/.

Imports only torch, sentencepiece, safetensors and numpy.
"""
