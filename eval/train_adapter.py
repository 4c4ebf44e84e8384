"""Train the domain adapter (``qa/indexing/adapters/medquad.safetensors``) from MedQuAD.

    pip install -e '.[train]'                      # peft; serving never needs it
    python eval/train_adapter.py --write-split      # eval/medquad_split.json (committed; once)
    python eval/train_adapter.py                    # train, write the bundled adapter and its card

The defaults reproduce the bundled adapter (December 2026; about 30 minutes on 2 cores): a full-rank
fine-tune on every training pair (11,042), lr 3e-5, one epoch, each update kept at rank 48, merged
halfway towards the base (``--interpolation 0.5``). It was chosen on real consumer questions
(``../shared/data/medicationqa-dev``, which never supplies training pairs) by 5-fold
cross-validation over the interpolations 0.3, 0.5, 0.7 and 1 (``eval/cv_select.py``; README
"Domain adapter"). The interpolation only scales the stored update, so one training at
``--interpolation 1`` and ``--from-adapter FILE --interpolation X`` rewrites give every candidate.

What it does, with a fixed seed (``--seed``):

- **Split by document.** ``eval/medquad_split.json`` holds MedQuAD's document ids in two parts:
  ``held_out`` (20%, drawn with seed 0, plus every MedQuAD page that ``eval/consumer.jsonl``
  asks about) and ``train``. Only questions of ``train`` documents are training data; the seed
  corpus, its FAQ set and the consumer set never are.
- **Pairs.** Each training question with the chunk its gold section starts with, as the index
  embeds it (``title › heading path`` then the text).
- **Negatives.** In-batch: a batch is made of whole documents, several sections each, so the
  other sections of the same document (siblings) are the hardest negatives of each question.
  ``--mined INDEX_DIR`` adds, per question, the nearest chunk of another document under the base
  model, read from an index built with the base model (``qa eval`` builds one for MedQuAD).
- **Model.** LoRA (peft) of rank ``--rank`` on every linear layer of the encoder's attention and
  feed-forward blocks, trained with the multiple-negatives ranking loss (scale 20), AdamW,
  linear warm-up and decay, one epoch, word pieces cut at 128 in training.
- **Full-rank alternative.** ``--full`` fine-tunes the same layers' weights at full rank (nothing
  else moves), then keeps each update's best rank-``--rank`` approximation (SVD) in the same file
  format, merged with scale 1: what a full fine-tune would ship under the 5 MB limit (rank 48 is
  about 4 MB).
- **Artifact.** The low-rank factors in float16 with ``scale`` = alpha / rank × ``--interpolation``
  (1 keeps the whole update; 0.5 moves halfway back to the base, as WiSE-FT does), and a card
  (``.json``) with its sha256, size, the settings, the data counts and the training time. The
  sha256 is printed. ``--from-adapter FILE --interpolation X`` rewrites an adapter at another
  interpolation without training.

On a GPU (when one is lent): ``python eval/train_adapter.py --device cuda``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.indexing.adapter import BUNDLED_ADAPTER, card_path, read_adapter, write_adapter  # noqa: E402
from qa.indexing.embedding import BUNDLED_MODEL_ID  # noqa: E402
from qa.text import heading_key  # noqa: E402

SPLIT = ROOT / "eval" / "medquad_split.json"
TARGETS = ["query", "key", "value", "dense"]  # attention projections and both feed-forward layers


def medquad_dir() -> Path:
    return Path(os.environ.get("MEDQUAD_DIR") or ROOT.parent / "shared/data/medquad")


def write_split(share: float, seed: int) -> None:
    corpus = medquad_dir() / "corpus"
    if not corpus.is_dir():
        sys.exit(f"MedQuAD not found at {corpus}; set MEDQUAD_DIR")
    docs = sorted(p.stem for p in corpus.glob("*.md"))
    consumer = {
        json.loads(line)["doc"]
        for line in (ROOT / "eval" / "consumer.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip() and json.loads(line).get("corpus") == "medquad"
    }
    drawn = set(random.Random(seed).sample(docs, round(len(docs) * share)))
    held_out = sorted(drawn | (consumer & set(docs)))
    split = {
        "about": "MedQuAD documents by id: the adapter trains on questions of `train` only; `held_out` "
        f"is {share:.0%} drawn with seed {seed} plus every MedQuAD page eval/consumer.jsonl asks about",
        "seed": seed,
        "held_out": held_out,
        "train": sorted(set(docs) - set(held_out)),
    }
    SPLIT.write_text(json.dumps(split, indent=0) + "\n", encoding="utf-8")
    print(f"wrote {SPLIT}: {len(split['train'])} train, {len(held_out)} held-out documents")


def training_pairs(embedder, train_docs: set[str]) -> tuple[list[tuple[str, str, str, str]], dict]:
    """(question, doc, section key, positive text) for every train question whose gold section has a chunk."""
    from qa.indexing.chunking import ChunkSettings, chunk_documents, chunk_embedding_text
    from qa.ingest.corpus import load_corpus

    corpus = load_corpus(medquad_dir() / "corpus", progress=True)
    docs = [d for d in corpus.documents if d.doc_id in train_docs]
    chunks = chunk_documents(docs, ChunkSettings(embedder.max_tokens, 32), embedder.count_tokens, progress=True)
    first: dict[tuple[str, str], object] = {}
    for chunk in chunks:
        if len(chunk.heading_path) > 1:
            first.setdefault((chunk.doc_id, heading_key(chunk.heading_path[1])), chunk)
    pairs, missing = [], 0
    for line in (medquad_dir() / "eval.jsonl").read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        if item["doc"] not in train_docs:
            continue
        chunk = first.get((item["doc"], heading_key(item["section"])))
        if chunk is None:
            missing += 1
            continue
        pairs.append((item["question"], item["doc"], heading_key(item["section"]), chunk_embedding_text(chunk)))
    return pairs, {"train_documents": len(docs), "chunks": len(chunks), "pairs": len(pairs), "no_gold_chunk": missing}


def batches(pairs: list, size: int, rng: random.Random) -> list[list[int]]:
    """Batches of whole documents: each document brings one question per section (never two
    for one section in a batch, so no positive is another question's negative)."""
    rounds: dict[str, list[list[int]]] = defaultdict(list)
    by_doc: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for i, (_, doc, section, _) in enumerate(pairs):
        by_doc[doc][section].append(i)
    for doc, sections in by_doc.items():
        for ids in sections.values():
            rng.shuffle(ids)
        for r in range(max(len(ids) for ids in sections.values())):
            rounds[doc].append([ids[r] for ids in sections.values() if r < len(ids)])
    groups = [group for doc_rounds in rounds.values() for group in doc_rounds]
    rng.shuffle(groups)
    out, current = [], []
    for group in groups:
        if current and len(current) + len(group) > size:
            out.append(current)
            current = []
        current.extend(group[:size])
    if current:
        out.append(current)
    return out


def mined_negatives(index_dir: Path, pairs: list, embedder, documents: set[str]) -> list[str]:
    """Per pair, the text of the nearest chunk of another training document under the base model
    (a held-out document's text is never shown to training, not even as a negative)."""
    from qa.indexing.chunking import chunk_embedding_text
    from qa.indexing.storage import load_index

    index = load_index(index_dir)
    index.check_model(BUNDLED_MODEL_ID)
    matrix = np.vstack([index.faiss.reconstruct(i) for i in range(index.faiss.ntotal)])
    questions = embedder.embed([p[0] for p in pairs])
    out = []
    for row, (_, doc, _, _) in zip(questions @ matrix.T, pairs, strict=True):
        for candidate in np.argsort(-row)[:200]:
            chunk = index.chunks[candidate]
            if chunk.doc_id != doc and chunk.doc_id in documents:
                out.append(chunk_embedding_text(chunk))
                break
        else:
            out.append("")
    return out


def _target_linears(transformer) -> list:
    import torch

    return [
        (name, module)
        for name, module in transformer.named_modules()
        if isinstance(module, torch.nn.Linear) and name.rsplit(".", 1)[-1] in TARGETS and name.startswith("encoder.")
    ]


def lora_layers(transformer) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The trained LoRA factors (A, B) of every adapted layer."""
    layers = {}
    for name, module in transformer.named_modules():
        if hasattr(module, "lora_A") and "default" in getattr(module, "lora_A", {}):
            layers[name] = (
                module.lora_A["default"].weight.detach().cpu().numpy(),
                module.lora_B["default"].weight.detach().cpu().numpy(),
            )
    return layers


def factorised(transformer, base_weights: dict, rank: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each fine-tuned layer's update (trained weight - base weight) truncated to ``rank`` by SVD,
    as LoRA factors: update ~ B A with B = U_r S_r and A = V_r^T (merged with scale 1)."""
    layers = {}
    for name, module in _target_linears(transformer):
        update = (module.weight.detach() - base_weights[name]).cpu().numpy().astype(np.float64)
        u, s, vt = np.linalg.svd(update, full_matrices=False)
        kept = float((s[:rank] ** 2).sum() / max((s**2).sum(), 1e-30))
        layers[name] = (vt[:rank], u[:, :rank] * s[:rank])
        print(f"  {name}: rank {rank} keeps {kept:.1%} of the update's energy")
    return layers


def train(args: argparse.Namespace) -> None:
    import torch
    from peft import LoraConfig, inject_adapter_in_model
    from tqdm import tqdm

    from qa.indexing.embedding import SentenceTransformerEmbedder

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    split = json.loads(SPLIT.read_text(encoding="utf-8"))
    embedder = SentenceTransformerEmbedder("all-MiniLM-L6-v2", device=args.device)  # verified by sha256
    pairs, counts = training_pairs(embedder, set(split["train"]))
    if args.sample and args.sample < len(pairs):
        pairs = [pairs[i] for i in sorted(random.Random(args.seed).sample(range(len(pairs)), args.sample))]
    negatives = mined_negatives(args.mined, pairs, embedder, set(split["train"])) if args.mined else None
    model = embedder._load()  # the verified base model; its weights are changed in place below
    model.max_seq_length = 128
    transformer = model[0].auto_model
    base_weights = {}
    if args.full:  # every weight of the targeted layers, at full rank; factorised after training
        for name, module in _target_linears(transformer):
            base_weights[name] = module.weight.detach().clone()
        targeted = {id(module.weight) for _, module in _target_linears(transformer)}
        for parameter in model.parameters():
            parameter.requires_grad = id(parameter) in targeted
    else:
        config = LoraConfig(r=args.rank, lora_alpha=2 * args.rank, lora_dropout=0.1, target_modules=TARGETS)
        transformer = inject_adapter_in_model(config, transformer)
        for name, parameter in model.named_parameters():
            parameter.requires_grad = "lora_" in name
    trainable = [p for p in model.parameters() if p.requires_grad]
    rng = random.Random(args.seed)
    plan = [b for _ in range(args.epochs) for b in batches(pairs, args.batch_size, rng)]
    optimizer = torch.optim.AdamW(trainable, lr=args.lr, weight_decay=0.01)
    warmup = max(1, len(plan) // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (len(plan) - s) / max(1, len(plan) - warmup)))
    )
    model.train()

    def encode(texts: list[str]) -> torch.Tensor:
        features = model.tokenize(texts)
        features = {k: v.to(args.device) if hasattr(v, "to") else v for k, v in features.items()}
        return torch.nn.functional.normalize(model(features)["sentence_embedding"], dim=-1)

    started = time.perf_counter()
    losses = []
    for batch in (bar := tqdm(plan, desc="Training adapter", unit="batch")):
        questions = encode([pairs[i][0] for i in batch])
        candidates = [pairs[i][3] for i in batch]
        if negatives is not None:
            candidates += [negatives[i] or pairs[i][3] for i in batch]
        passages = encode(candidates)
        scores = 20.0 * questions @ passages.T
        loss = torch.nn.functional.cross_entropy(scores, torch.arange(len(batch), device=scores.device))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        losses.append(float(loss))
        bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
    seconds = time.perf_counter() - started
    if args.full:
        layers = factorised(transformer, base_weights, args.rank)
        method = (
            f"full-rank fine-tune of the {', '.join(TARGETS)} weights of every block, each update then "
            f"truncated to rank {args.rank} by SVD"
        )
        scale = args.interpolation
    else:
        layers = lora_layers(transformer)
        method = f"LoRA rank {args.rank}, alpha {2 * args.rank}, on {', '.join(TARGETS)} layers of every block"
        scale = 2.0 * args.interpolation
    card = {
        "base_model": BUNDLED_MODEL_ID,
        "method": method,
        "interpolation": args.interpolation,
        "training": {
            "data": "MedQuAD (CC BY 4.0; Ben Abacha & Demner-Fushman 2019), "
            "questions of eval/medquad_split.json 'train'",
            **counts,
            "pairs_used": len(pairs),
            "negatives": "in-batch (whole documents per batch: sibling sections)"
            + (", plus the nearest chunk of another document under the base model" if negatives else ""),
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "lr": args.lr,
            "max_word_pieces": 128,
            "seed": args.seed,
            "steps": len(plan),
            "seconds": round(seconds, 1),
            "device": args.device,
            "threads": torch.get_num_threads(),
            "final_loss_mean_of_last_20": round(float(np.mean(losses[-20:])), 4),
        },
    }
    sha256 = write_adapter(args.out, layers, base_model=BUNDLED_MODEL_ID, scale=scale, card=card)
    print(f"trained in {seconds:.1f} s ({len(plan)} steps, {len(pairs)} pairs); {len(layers)} layers")
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes), sha256 {sha256}")


def rescale(args: argparse.Namespace) -> None:
    from safetensors.numpy import load_file

    source = read_adapter(args.from_adapter, required_card=False)
    tensors = load_file(str(args.from_adapter))
    card = json.loads(card_path(args.from_adapter).read_text(encoding="utf-8"))
    old = float(card.get("interpolation", 1.0))
    layers = {
        n[: -len(".lora_A")]: (tensors[n], tensors[n[: -len("A")] + "B"]) for n in tensors if n.endswith(".lora_A")
    }
    card = {k: v for k, v in card.items() if k not in ("file", "sha256", "bytes")}
    card["interpolation"] = args.interpolation
    sha256 = write_adapter(
        args.out, layers, base_model=source.base_model, scale=source.scale / old * args.interpolation, card=card
    )
    print(f"wrote {args.out} at interpolation {args.interpolation}, sha256 {sha256}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write-split", action="store_true", help="write eval/medquad_split.json and stop")
    parser.add_argument("--held-out-share", type=float, default=0.2)
    parser.add_argument("--out", type=Path, default=BUNDLED_ADAPTER)
    parser.add_argument("--rank", type=int, default=48)
    parser.add_argument("--lr", type=float, default=3e-5)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--interpolation", type=float, default=0.5)
    parser.add_argument("--mined", type=Path, help="an index of MedQuAD built with the base model, to mine negatives")
    parser.add_argument("--sample", type=int, default=0, help="train on N pairs drawn with --seed (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--from-adapter", type=Path, help="rewrite this adapter at --interpolation; no training")
    parser.add_argument(
        "--full",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="fine-tune the targeted weights at full rank, keep --rank of each by SVD (--no-full: a LoRA)",
    )
    args = parser.parse_args()
    if args.write_split:
        write_split(args.held_out_share, seed=0)
    elif args.from_adapter:
        rescale(args)
    else:
        if not SPLIT.is_file():
            sys.exit(f"{SPLIT} is missing; run with --write-split first")
        if not math.isfinite(args.lr) or args.lr <= 0:
            sys.exit("--lr must be a positive number")
        train(args)


if __name__ == "__main__":
    main()
