"""Training: intent and sentiment heads over one LoRA-adapted encoder.

The recipe, in order:
1. Encode the training texts with the frozen encoder and fit a logistic regression per task
   (sentiment: classes balanced). The regression's weights become the heads, so fine-tuning
   starts where the strongest frozen baseline ends instead of from random heads.
2. Put LoRA adapters on every linear layer of the encoder and train adapters and heads together.
   Each step takes a batch of same-intent pairs (cross-entropy with label smoothing, plus a
   supervised contrastive term on the sentence vectors), a sentiment batch (class-weighted
   cross-entropy) and, with a knowledge base, a contrastive batch of its questions and answers.
   A share of the intent texts and knowledge-base questions is typed with slips each time it
   is drawn (finetune.noise), so that "wher is my oder" reads as "where is my order".
3. On the validation split, fit a temperature for calibrated confidences and choose the
   out-of-scope threshold.
4. Learn from every row: the intent head becomes the average of the trained head and a logistic
   regression on the adapted encoder. The regression is fitted on the training rows for step 3's
   calibration, which is measured on rows it never saw, and then refitted on all rows, the
   validation rows included, with the calibration kept (as scikit-learn's
   CalibratedClassifierCV does with ensemble=False).
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import numpy as np
import torch
from torch import nn

from finetune.bundle import NLUBundle
from finetune.bundle_format import BundleInfo, softmax
from finetune.config import TrainingConfig
from finetune.data import DataError, LabelledTexts, stratified_split
from finetune.modeling import MultiTaskModel, load_base
from finetune.noise import noisy
from finetune.reading import OOS_LABEL
from retrieval.adaptation import KnowledgeBaseBatches, contrastive_loss
from retrieval.encoder import encode_in_length_order
from retrieval.knowledge_base import KnowledgeBase

logger = logging.getLogger(__name__)


def data_hash(data: LabelledTexts) -> str:
    digest = hashlib.sha256()
    for text, label in zip(data.texts, data.labels, strict=True):
        digest.update(f"{text}\t{label}\n".encode())
    return digest.hexdigest()


def _frozen_vectors(model: MultiTaskModel, texts: list[str], batch_size: int) -> np.ndarray:
    """The heads' input features, (len(texts), features), in the order of ``texts``."""
    with torch.inference_mode():
        return encode_in_length_order(
            texts,
            batch_size,
            lambda batch: model.encode(batch)[1].numpy(),
            show_progress=True,
            description="frozen encoding",
        )


def _fit_head(
    vectors: np.ndarray, labels: list[str], order: list[str], c: float, balanced: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.linear_model import LogisticRegression

    targets = np.array([order.index(label) for label in labels])
    regression = LogisticRegression(
        C=c, max_iter=2000, class_weight="balanced" if balanced else None
    ).fit(vectors, targets)
    coef, intercept = regression.coef_, regression.intercept_
    if coef.shape[0] == 1:
        # Two classes: one weight vector w gives z1 - z0; split it as z1 = w/2, z0 = -w/2.
        coef = np.vstack([-coef / 2, coef / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    weight = np.zeros((len(order), vectors.shape[1]), dtype=np.float32)
    bias = np.full(len(order), -1e4, dtype=np.float32)  # a label absent from training never wins
    weight[regression.classes_] = coef
    bias[regression.classes_] = intercept
    return weight, bias


def _pair_batches(targets: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """One epoch of batches of row positions, every row once, built from pairs of rows with the
    same label so that each row has a positive for the contrastive loss (a label's odd row out
    is paired with another of its rows again)."""
    by_label: dict[int, list[int]] = {}
    for position, target in enumerate(targets):
        by_label.setdefault(target, []).append(position)
    pairs: list[list[int]] = []
    for target in sorted(by_label):
        rows = rng.sample(by_label[target], len(by_label[target]))
        if len(rows) % 2 and len(rows) > 1:
            rows.append(rng.choice(rows[:-1]))
        pairs.extend(rows[i : i + 2] for i in range(0, len(rows), 2))
    rng.shuffle(pairs)
    per_batch = max(1, batch_size // 2)
    return [
        [position for pair in pairs[i : i + per_batch] for position in pair]
        for i in range(0, len(pairs), per_batch)
    ]


def supervised_contrastive_loss(
    vectors: torch.Tensor, targets: torch.Tensor, temperature: float
) -> torch.Tensor:
    """Khosla et al. 2020: each unit vector is pulled towards the batch's other rows of its label
    and pushed from the rest. Rows without a same-label partner in the batch add nothing."""
    similarity = vectors @ vectors.T / temperature
    itself = torch.eye(len(targets), dtype=torch.bool)
    similarity = similarity.masked_fill(itself, -1e9)
    positives = (targets[:, None] == targets[None, :]) & ~itself
    log_probability = similarity - torch.logsumexp(similarity, dim=1, keepdim=True)
    per_row = -(log_probability * positives).sum(1) / positives.sum(1).clamp(min=1)
    has_partner = positives.any(1)
    if not has_partner.any():
        return vectors.sum() * 0.0
    return per_row[has_partner].mean()


def _balancing_weights(counts: np.ndarray) -> torch.Tensor:
    """Class weights n / (classes * count): every class weighs the same in the loss."""
    weights = counts.sum() / (len(counts) * np.maximum(counts, 1))
    return torch.tensor(weights, dtype=torch.float32)


def fit_temperature(logits: np.ndarray, targets: np.ndarray) -> float:
    """The temperature that minimises validation negative log-likelihood (grid search)."""
    best, best_nll = 1.0, math.inf
    for temperature in np.exp(np.linspace(np.log(0.25), np.log(8.0), 61)):
        probs = softmax(logits, float(temperature))
        nll = -float(np.mean(np.log(probs[np.arange(len(targets)), targets] + 1e-12)))
        if nll < best_nll:
            best, best_nll = float(temperature), nll
    return best


def choose_oos_threshold(
    probs: np.ndarray, labels: list[str], gold: list[str], in_scope_rejection: float
) -> tuple[float, str]:
    """(threshold, method). Without `oos` validation rows, the quantile of in-scope confidence
    that rejects ``in_scope_rejection`` of them. With them, the threshold that maximises
    out-of-scope recall while in-scope accuracy drops by at most one point."""
    confidence = probs.max(axis=1)
    in_scope = np.array([g != OOS_LABEL for g in gold])
    if in_scope.all():
        return float(np.quantile(confidence, in_scope_rejection)), "confidence-quantile"
    predicted = [labels[i] for i in probs.argmax(axis=1)]
    correct = np.array([p == g for p, g in zip(predicted, gold, strict=True)])
    base_accuracy = correct[in_scope].mean()
    best = 0.0
    for threshold in np.linspace(0.0, 0.99, 100):
        kept = correct & (confidence >= threshold)
        if base_accuracy - kept[in_scope].mean() <= 0.01:
            best = float(threshold)
    return best, "oos-class+confidence"


def _no_progress(done: int, total: int) -> None:
    pass


def train(
    config: TrainingConfig,
    intents: LabelledTexts,
    sentiments: LabelledTexts | None = None,
    out_of_scope: LabelledTexts | None = None,
    knowledge_base: KnowledgeBase | None = None,
    intent_validation: LabelledTexts | None = None,
    show_progress: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[NLUBundle, Any]:
    """Train and return (bundle, the peft-wrapped encoder that saves the adapter).

    With a knowledge base, each step also takes a contrastive batch of its questions and
    answers, so that the bundle's sentence vectors serve retrieval (see retrieval.adaptation).
    Without ``intent_validation``, a stratified share of the intents is held out for it.
    ``progress(steps done, steps in all)`` is called after each training step (a retraining
    job reports it to the console).
    """
    from peft import LoraConfig, get_peft_model
    from tqdm import tqdm

    from retrieval.encoder import BUNDLED, resolve_model_path, weights_hash

    report = progress if progress is not None else _no_progress
    random.seed(config.seed)
    np.random.seed(config.seed)
    torch.manual_seed(config.seed)

    if out_of_scope is not None:
        out_of_scope = LabelledTexts(out_of_scope.texts, [OOS_LABEL] * len(out_of_scope))
        intents = LabelledTexts(
            intents.texts + out_of_scope.texts, intents.labels + out_of_scope.labels
        )
    # Validation rows carved from the intents are learnt from after calibration (step 4); rows
    # the caller gave for validation stay unseen.
    carved_validation = intent_validation is None
    intent_train, intent_validation = _intent_split(config, intents, intent_validation)
    sentiment_train = sentiment_validation = None
    if sentiments is not None:
        sentiment_train, sentiment_validation = stratified_split(
            sentiments, config.validation_fraction, config.seed
        )

    base_path = resolve_model_path(config.base_model)
    encoder, tokenizer = load_base(base_path)
    intent_labels = sorted(set(intents.labels))
    sentiment_labels = sorted(set(sentiments.labels)) if sentiments is not None else None
    model = MultiTaskModel(
        encoder, tokenizer, intent_labels, sentiment_labels, config.max_length, config.head_layers
    )

    _init_heads_by_regression(model, config, intent_train, sentiment_train)

    peft_encoder = get_peft_model(
        model.encoder,
        LoraConfig(
            r=config.lora_rank,
            lora_alpha=2 * config.lora_rank,
            lora_dropout=0.1,
            target_modules=list(config.lora_targets),
        ),
    )
    model.encoder = peft_encoder
    heads = [
        p
        for name, p in model.named_parameters()
        if name.startswith(("intent_head", "sentiment_head"))
    ]
    adapters = [p for name, p in model.named_parameters() if "lora_" in name and p.requires_grad]
    optimiser = torch.optim.AdamW(
        [
            {"params": adapters, "lr": config.learning_rate},
            {"params": heads, "lr": config.head_learning_rate},
        ],
        weight_decay=0.01,
    )
    rng = random.Random(config.seed)
    # Its own generator, so that the batches are the same with and without typing noise.
    typing = random.Random(config.seed + 1)
    intent_targets = torch.tensor([intent_labels.index(label) for label in intent_train.labels])
    steps_per_epoch = len(_pair_batches(intent_targets.tolist(), config.batch_size, rng))
    total_steps = max(1, config.epochs * steps_per_epoch)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser,
        lambda step: min(1.0, (step + 1) / (0.06 * total_steps)) * max(0.0, 1 - step / total_steps),
    )
    cross_entropy = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    sentiment_loss = None
    if sentiment_train is not None and sentiment_labels:
        counts = np.array([sentiment_train.labels.count(label) for label in sentiment_labels])
        sentiment_loss = nn.CrossEntropyLoss(
            weight=_balancing_weights(counts), label_smoothing=config.label_smoothing
        )
    retrieval_batches = (
        KnowledgeBaseBatches(knowledge_base, 64, config.seed)
        if knowledge_base is not None and config.retrieval_weight > 0
        else None
    )
    sentiment_batches = (
        _sentiment_batches(len(sentiment_train), config.batch_size, rng)
        if sentiment_train is not None
        else None
    )
    losses: list[float] = []
    # Counted here: a disabled tqdm bar (show_progress False) does not count.
    steps_done = 0
    model.train()
    with tqdm(
        total=config.epochs * steps_per_epoch,
        desc="training",
        unit="step",
        disable=not show_progress,
    ) as bar:
        for _ in range(config.epochs):
            epoch_loss = 0.0
            for chosen in _pair_batches(intent_targets.tolist(), config.batch_size, rng):
                targets = intent_targets[chosen]
                texts = noisy([intent_train.texts[i] for i in chosen], config.typo_rate, typing)
                vectors, logits, _ = model(texts)
                loss = cross_entropy(logits, targets)
                if config.contrastive_weight > 0:
                    loss = loss + config.contrastive_weight * supervised_contrastive_loss(
                        vectors, targets, config.contrastive_temperature
                    )
                if sentiment_loss is not None and model.sentiment_head is not None:
                    assert sentiment_train is not None and sentiment_labels
                    assert sentiment_batches is not None
                    picked = next(sentiment_batches)
                    _, vectors_s = model.encode([sentiment_train.texts[i] for i in picked])
                    sentiments_of = torch.tensor(
                        [sentiment_labels.index(sentiment_train.labels[i]) for i in picked]
                    )
                    loss = loss + sentiment_loss(model.sentiment_head(vectors_s), sentiments_of)
                if retrieval_batches is not None:
                    anchors, positives, answers = retrieval_batches.next()
                    loss = loss + config.retrieval_weight * contrastive_loss(
                        lambda texts: model.encode(texts)[0],
                        (noisy(anchors, config.typo_rate, typing), positives, answers),
                        config.retrieval_temperature,
                    )
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                schedule.step()
                epoch_loss += loss.item()
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.3f}")
                steps_done += 1
                report(steps_done, config.epochs * steps_per_epoch)
            losses.append(epoch_loss / steps_per_epoch)

    # Training reads at most max_length tokens for speed; serving reads longer messages whole.
    model.max_length = 128
    info = BundleInfo(
        base_model=BUNDLED if config.base_model == BUNDLED else str(base_path),
        base_fingerprint=weights_hash(base_path),
        intent_labels=intent_labels,
        sentiment_labels=sentiment_labels,
        head_layers=config.head_layers,
        training={**asdict(config), "epoch_losses": [round(v, 4) for v in losses]},
        data=_data_description(intents, sentiments, out_of_scope, knowledge_base),
        versions=_versions(),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    bundle = NLUBundle(model, info)
    model.eval()
    every_row = LabelledTexts(
        intent_train.texts + intent_validation.texts,
        intent_train.labels + intent_validation.labels,
    )
    # The adapted features of every row, read once for both regressions below.
    adapted = _adapted_features(model, config, every_row if carved_validation else intent_train)
    held_out_head = _averaged_head(model, config, intent_train, adapted)
    _calibrate(bundle, config, intent_validation, sentiment_validation)
    if held_out_head is not None and carved_validation:
        _averaged_head(model, config, every_row, adapted, trained=held_out_head)
    logger.info(
        "trained on %s: %s", info.base_model, info.metrics["validation"]["intent"]["accuracy"]
    )
    return bundle, peft_encoder


def _intent_split(
    config: TrainingConfig, intents: LabelledTexts, intent_validation: LabelledTexts | None
) -> tuple[LabelledTexts, LabelledTexts]:
    """(train, validation): the given validation data, or a stratified share of ``intents``."""
    if intent_validation is None:
        return stratified_split(intents, config.validation_fraction, config.seed)
    unknown = sorted(set(intent_validation.labels) - set(intents.labels))
    if unknown:
        raise DataError(
            f"the validation data has intents the training data lacks: {', '.join(unknown[:5])}"
        )
    return intents, intent_validation


def _init_heads_by_regression(
    model: MultiTaskModel,
    config: TrainingConfig,
    intent_train: LabelledTexts,
    sentiment_train: LabelledTexts | None,
) -> None:
    """Step 1 of the recipe: the heads start as logistic regressions on frozen vectors."""
    model.eval()
    vectors = _frozen_vectors(model, intent_train.texts, 128)
    model.init_head(
        model.intent_head,
        *_fit_head(vectors, intent_train.labels, model.intent_labels, config.logistic_c),
    )
    if sentiment_train is not None and model.sentiment_head is not None and model.sentiment_labels:
        vectors = _frozen_vectors(model, sentiment_train.texts, 128)
        model.init_head(
            model.sentiment_head,
            *_fit_head(
                vectors,
                sentiment_train.labels,
                model.sentiment_labels,
                config.sentiment_logistic_c,
                balanced=True,
            ),
        )


def _adapted_features(
    model: MultiTaskModel, config: TrainingConfig, rows: LabelledTexts
) -> np.ndarray | None:
    """The trained encoder's head features of ``rows`` for step 4, or None without a refit."""
    if not config.refit_head or len(set(rows.labels)) < 2:
        return None
    with torch.inference_mode():
        return _frozen_vectors(model, rows.texts, 128)


def _averaged_head(
    model: MultiTaskModel,
    config: TrainingConfig,
    rows: LabelledTexts,
    features: np.ndarray | None,
    trained: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Set the intent head to the average of the ``trained`` head (by default the model's own)
    and a logistic regression fitted on the adapted features of ``rows`` (the first rows of
    ``features``); return the trained head, or None when there are too few rows or labels."""
    if features is None or len(set(rows.labels)) < 2:
        return None
    if trained is None:
        head = model.intent_head
        trained = (head.weight.detach().numpy().copy(), head.bias.detach().numpy().copy())
    weight, bias = _fit_head(
        features[: len(rows)], rows.labels, model.intent_labels, config.logistic_c
    )
    absent = bias <= -1e4  # a label the rows lack keeps the trained head's say alone
    weight[absent], bias[absent] = trained[0][absent], trained[1][absent]
    model.init_head(model.intent_head, (trained[0] + weight) / 2, (trained[1] + bias) / 2)
    return trained


def _sentiment_batches(rows: int, batch_size: int, rng: random.Random) -> Iterator[list[int]]:
    """Endless batches of sentiment row numbers: each pass over the rows in a new order, drawn
    from ``rng`` when the batch needs it (so the intent batches' draws interleave as before)."""
    order: list[int] = []
    while True:
        # Fewer rows than a batch: as many passes as it takes (one always did when there were
        # more; with fewer, popping from the empty list failed the training).
        while len(order) < batch_size:
            refill = list(range(rows))
            rng.shuffle(refill)
            order.extend(refill)
        yield [order.pop() for _ in range(batch_size)]


def _data_description(
    intents: LabelledTexts,
    sentiments: LabelledTexts | None,
    out_of_scope: LabelledTexts | None,
    knowledge_base: KnowledgeBase | None,
) -> dict[str, Any]:
    """What the bundle was trained on: row counts and content hashes."""
    data: dict[str, Any] = {"intent_rows": len(intents), "intent_hash": data_hash(intents)}
    if sentiments:
        data.update(sentiment_rows=len(sentiments), sentiment_hash=data_hash(sentiments))
    if out_of_scope is not None:
        data["oos_rows"] = len(out_of_scope)
    if knowledge_base is not None:
        data["knowledge_base_hash"] = knowledge_base.content_hash
    return data


def _calibrate(
    bundle: NLUBundle,
    config: TrainingConfig,
    intent_validation: LabelledTexts,
    sentiment_validation: LabelledTexts | None,
) -> None:
    from finetune.evaluation import intent_metrics, sentiment_metrics

    labels = bundle.info.intent_labels
    logits, _ = bundle.logits(intent_validation.texts)
    targets = np.array([labels.index(label) for label in intent_validation.labels])
    bundle.info.temperature = fit_temperature(logits, targets)
    probs = softmax(logits, bundle.info.temperature)
    threshold, method = choose_oos_threshold(
        probs, labels, intent_validation.labels, config.in_scope_rejection
    )
    bundle.info.oos_threshold, bundle.info.oos_method = threshold, method
    metrics: dict[str, Any] = {"intent": intent_metrics(bundle, intent_validation, probs=probs)}
    if sentiment_validation is not None:
        metrics["sentiment"] = sentiment_metrics(bundle, sentiment_validation)
    bundle.info.metrics = {"validation": metrics}


def _versions() -> dict[str, str]:
    import importlib.metadata

    names = ("cxagent", "torch", "transformers", "peft", "sentence-transformers", "scikit-learn")
    found = {}
    for name in names:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found
