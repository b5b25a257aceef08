"""WordPiece tokenizer: trained from the corpus (local profile) or taken from a checkpoint.

Either way the result is a `tokenizers.Tokenizer` that encodes a (query, document) pair as
``[CLS] query [SEP] document [SEP]`` with segment ids and truncation, and no padding
(batches pad dynamically). It is saved as tokenizer.json inside the packaged model.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

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


def learn_vocab(texts: Iterable[str], vocab_size: int, normalizer, pre_tokenizer) -> dict[str, int]:
    """Special tokens, every character (as itself and as ``##`` continuation), then the most
    frequent words (ties by spelling). Deterministic, unlike `WordPieceTrainer`, whose merge ties
    give a different vocabulary in every process (measured: 3 runs, 3 vocabularies)."""
    words: Counter[str] = Counter()
    for text in texts:
        words.update(w for w, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text)))
    chars = sorted({c for w in words for c in w})
    vocab = [*SPECIAL, *chars, *(f"##{c}" for c in chars)]
    seen = set(vocab)
    for word, _ in sorted(words.items(), key=lambda kv: (-kv[1], kv[0])):
        if len(vocab) >= vocab_size:
            break
        if word not in seen:
            vocab.append(word)
            seen.add(word)
    return {tok: i for i, tok in enumerate(vocab)}


def train_tokenizer(texts: Iterable[str], vocab_size: int, max_length: int) -> Tokenizer:
    """A lower-cased, accent-stripped WordPiece tokenizer whose vocabulary is learnt from `texts`."""
    normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=True, clean_text=True)
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    vocab = learn_vocab(texts, vocab_size, normalizer, pre_tokenizer)
    tok = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizer
    tok.decoder = decoders.WordPiece()
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
