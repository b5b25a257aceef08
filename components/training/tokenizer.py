"""WordPiece tokenizer: trained from the corpus (local profile) or taken from a checkpoint.

Either way the result is a `tokenizers.Tokenizer` that encodes a (query, document) pair as
``[CLS] query [SEP] document [SEP]`` with segment ids and truncation, and no padding
(batches pad dynamically). It is saved as tokenizer.json inside the packaged model.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _finish(tok: Tokenizer, max_length: int) -> Tokenizer:
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    if cls_id is None or sep_id is None:
        raise ValueError("tokenizer has no [CLS]/[SEP] tokens: not a BERT/ELECTRA-style WordPiece vocabulary")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    tok.enable_truncation(max_length=max_length, strategy="longest_first")
    tok.no_padding()
    return tok


def train_tokenizer(texts: Iterable[str], vocab_size: int, max_length: int) -> Tokenizer:
    """A lower-cased, accent-stripped WordPiece vocabulary learnt from `texts` (deterministic)."""
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=True, clean_text=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=SPECIAL, min_frequency=1,
                                        show_progress=False)
    tok.train_from_iterator(list(texts), trainer=trainer)
    return _finish(tok, max_length)


def load_tokenizer(checkpoint: str, max_length: int) -> Tokenizer:
    """The tokenizer of a local pretrained checkpoint (tokenizer.json, else vocab.txt); no downloads."""
    path = Path(checkpoint)
    if (path / "tokenizer.json").exists():
        tok = Tokenizer.from_file(str(path / "tokenizer.json"))
    elif (path / "vocab.txt").exists():
        from tokenizers.implementations import BertWordPieceTokenizer

        tok = BertWordPieceTokenizer(str(path / "vocab.txt"), lowercase=True)._tokenizer
    else:
        raise FileNotFoundError(f"checkpoint {checkpoint!r} has neither tokenizer.json nor vocab.txt")
    return _finish(tok, max_length)
