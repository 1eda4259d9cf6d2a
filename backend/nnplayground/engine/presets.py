"""Lesson presets: one configuration per idea of the course, with a short explanation in English
and Spanish. A preset is an override over the defaults, so it stays short and readable."""

from __future__ import annotations

from .claims import Claim
from .config import LESSON_NAMES, RunConfig, merge

PRESETS: dict[str, dict] = {
    "vanishing-gradients": {
        "title": "Vanishing gradients with sigmoid",
        "en": "Six sigmoid layers: the sigmoid's slope is at most 1/4, so the gradient shrinks layer after "
        "layer on its way back. Watch the gradient-norm chart: the first layers barely move. "
        "Switch the activation to relu (with He init) and compare.",
        "es": "Seis capas sigmoides: la pendiente de la sigmoide no pasa de 1/4 y el gradiente se achica capa "
        "a capa hacia atrás. En el gráfico de normas de gradiente, las primeras capas casi no aprenden. "
        "Probá relu con inicialización He y compará.",
        "config": {
            "dataset": {"name": "circle", "n_samples": 400},
            "model": {"hidden": [8, 8, 8, 8, 8, 8], "activation": "sigmoid"},
            "init": {"scheme": "xavier"},
            "optimizer": {"name": "sgd", "lr": 0.1},
            "training": {"epochs": 60, "batch_size": 10},
        },
    },
    "relu-he": {
        "title": "Deep ReLU network with He init",
        "en": "The same six-layer network as the vanishing-gradient lesson, with relu and He initialization "
        "(variance 2/n): gradient norms stay of the same order in every layer and the network learns.",
        "es": "La misma red de seis capas, ahora con relu e inicialización He (varianza 2/n): las normas del "
        "gradiente quedan del mismo orden en todas las capas y la red aprende.",
        "config": {
            "dataset": {"name": "circle", "n_samples": 400},
            "model": {"hidden": [8, 8, 8, 8, 8, 8], "activation": "relu"},
            "init": {"scheme": "he"},
            "optimizer": {"name": "sgd", "lr": 0.03},
            "training": {"epochs": 60, "batch_size": 10},
        },
    },
    "zero-init": {
        "title": "Zero initialization: the symmetry problem",
        "en": "Every weight starts at 0, so every hidden unit of a layer computes the same thing and gets the "
        "same update: they stay copies of each other forever. Look at the network's weights; then try xavier.",
        "es": "Todos los pesos arrancan en 0: cada unidad de una capa calcula lo mismo y recibe la misma "
        "actualización, así que siguen siendo copias entre sí. Mirá los pesos; después probá xavier.",
        "config": {
            "dataset": {"name": "circle", "n_samples": 400},
            "model": {"hidden": [6, 6], "activation": "sigmoid"},
            "init": {"scheme": "zeros"},
            "optimizer": {"name": "adam", "lr": 0.05},
            "training": {"epochs": 40},
        },
    },
    "overfitting-sine": {
        # the key keeps its old name (shared links, scripts); the data set is two noisy moons, where a big
        # network's overfitting shows clearly in the validation loss (a noisy sine's barely moves)
        "title": "Overfitting, and early stopping with patience",
        "en": "A big network (2 x 128 units) on 40 noisy points of two moons: after a few epochs the training "
        "loss keeps falling while the validation loss turns back up, as the network learns the noise of its "
        "training points. Early stopping waits `patience` epochs after the best one, stops, and restores the "
        "best epoch's checkpoint.",
        "es": "Una red grande (2 x 128 unidades) sobre 40 puntos ruidosos de dos lunas: después de unas épocas "
        "la pérdida de entrenamiento sigue bajando y la de validación vuelve a subir, porque la red aprende el "
        "ruido de sus puntos de entrenamiento. Early stopping espera `patience` épocas después de la mejor, "
        "frena y recupera el checkpoint de la mejor época.",
        "config": {
            "dataset": {"name": "moons", "n_samples": 80, "noise": 0.3, "val_fraction": 0.5},
            "model": {"hidden": [128, 128], "activation": "relu"},
            "init": {"scheme": "he"},
            "optimizer": {"name": "adam", "lr": 0.0005},
            "training": {"epochs": 300, "batch_size": 40},
            "early_stopping": {"enabled": True, "patience": 60, "restore_best": True},
            "telemetry": {"histogram_every": 10},
        },
    },
    "momentum": {
        "title": "Momentum versus plain SGD",
        "en": "The velocity V = alpha*V + (1-alpha)*gradient averages the last ~1/(1-alpha) gradients. Along a "
        "steady slope the step is the same as SGD's, but gradients that flip sign from step to step cancel out: "
        "at a learning rate where plain SGD zig-zags across the valley, momentum damps the zig-zag and goes "
        "straight down. Each epoch here is one full-batch step. Compare with optimizer sgd at the same LR.",
        "es": "La velocidad V = alpha*V + (1-alpha)*gradiente promedia los últimos ~1/(1-alpha) gradientes. En "
        "una pendiente pareja el paso es el mismo que el de SGD, pero los gradientes que cambian de signo paso a "
        "paso se cancelan: con un learning rate en el que SGD zigzaguea de un lado al otro del valle, momentum "
        "amortigua el zigzag y baja derecho. Cada época es un paso con todo el batch. Compará con sgd y el "
        "mismo LR.",
        "config": {
            "dataset": {"name": "moons", "n_samples": 400, "noise": 0.15},
            "preprocessing": {"standardize": False},
            "model": {"hidden": [8, 8], "activation": "tanh"},
            "init": {"scheme": "xavier"},
            "optimizer": {"name": "momentum", "lr": 1.0, "momentum": 0.9},
            "training": {"epochs": 100, "batch_size": 200},
        },
    },
    "batch-norm": {
        "title": "Batch normalization",
        "en": "Six sigmoid layers with large initial weights (normal, std 2): without help 30% or more of the "
        "pre-activations land on the sigmoid's flat tails, outside [-2.5, 2.5], where its slope is almost 0. "
        "Batch norm normalizes each unit's pre-activation with its batch's mean and variance, then rescales it "
        "by a learned gamma and beta, so the pre-activations come back into the range where the sigmoid has a "
        "slope. Running averages (alpha) stand in for the batch at evaluation time.",
        "es": "Seis capas sigmoides con pesos iniciales grandes (normal, desvío 2): sin ayuda, el 30% o más de las "
        "pre-activaciones caen en las colas planas de la sigmoide, fuera de [-2.5, 2.5], donde su pendiente es "
        "casi 0. Batch norm normaliza la pre-activación de cada unidad con la media y varianza del batch y la "
        "reescala con gamma y beta aprendidos: las pre-activaciones vuelven al rango donde la sigmoide tiene "
        "pendiente. Para evaluar se usan medias móviles (alpha).",
        "config": {
            "dataset": {"name": "circle", "n_samples": 400},
            "model": {"hidden": [8, 8, 8, 8, 8, 8], "activation": "sigmoid", "batch_norm": True, "bn_alpha": 0.9},
            "init": {"scheme": "normal", "std": 2.0},
            "optimizer": {"name": "sgd", "lr": 0.1},
            "training": {"epochs": 60, "batch_size": 16},
        },
    },
    "dropout-mc": {
        "title": "Dropout and MC-dropout uncertainty",
        "en": "During training each hidden unit is switched off with probability p, so the network cannot lean "
        "on a few units. At evaluation all units work. Leaving dropout on for T passes gives a spread of "
        "answers: large where the prediction is fragile.",
        "es": "Al entrenar, cada unidad oculta se apaga con probabilidad p y la red no puede depender de unas "
        "pocas. Al evaluar se usan todas. Con dropout prendido en T pasadas, la dispersión de las "
        "respuestas muestra dónde la predicción es frágil.",
        "config": {
            "dataset": {"name": "moons", "n_samples": 300, "noise": 0.2},
            "model": {"hidden": [64, 64], "activation": "relu", "dropout": 0.3},
            "optimizer": {"name": "adam", "lr": 0.01},
            "training": {"epochs": 80, "batch_size": 16},
            "telemetry": {"mc_samples": 20},
        },
    },
    "standardization-wine": {
        "title": "Input standardization on wine",
        "en": "Wine's 13 features live on very different scales (proline in the hundreds, hue near 1). "
        "Subtracting the mean and dividing by the standard deviation reshapes the loss surface so gradient "
        "descent converges much faster. Switch standardize off to see the difference.",
        "es": "Las 13 variables de wine están en escalas muy distintas (prolina en cientos, tono cerca de 1). "
        "Restar la media y dividir por el desvío hace que el descenso por gradiente converja mucho más "
        "rápido. Apagá standardize para ver la diferencia.",
        "config": {
            "dataset": {"name": "wine", "val_fraction": 0.3},
            "preprocessing": {"standardize": True},
            "model": {"hidden": [16], "activation": "relu"},
            "optimizer": {"name": "sgd", "lr": 0.01},
            "training": {"epochs": 30, "batch_size": 16},
        },
    },
    "weight-decay": {
        "title": "Weight decay (L2 penalty)",
        "en": "The loss becomes mean data loss + (1/2)*lambda*||w||^2: large weights now cost something. The big "
        "network of the overfitting lesson, on the same 40 noisy points, keeps its weights small and its "
        "validation loss low instead of learning the noise. Too large a lambda and nothing is learned.",
        "es": "La pérdida pasa a ser pérdida media + (1/2)*lambda*||w||^2: los pesos grandes cuestan. La red grande "
        "de la lección de sobreajuste, sobre los mismos 40 puntos ruidosos, mantiene sus pesos chicos y su "
        "pérdida de validación baja en lugar de aprender el ruido. Con lambda muy grande no aprende nada.",
        "config": {
            "dataset": {"name": "moons", "n_samples": 80, "noise": 0.3, "val_fraction": 0.5},
            "model": {"hidden": [128, 128], "activation": "relu"},
            "init": {"scheme": "he"},
            "optimizer": {"name": "adam", "lr": 0.0005, "weight_decay": 0.003},
            "training": {"epochs": 300, "batch_size": 40},
            "telemetry": {"histogram_every": 10},
        },
    },
    "lr-schedule": {
        "title": "Learning-rate schedules",
        "en": "A large learning rate moves fast but bounces around the minimum; a small one is slow. Step decay "
        "halves it every few epochs; plateau halves it when validation loss stalls. Watch the LR curve.",
        "es": "Un learning rate grande avanza rápido pero rebota alrededor del mínimo; uno chico es lento. Step "
        "decay lo divide cada tantas épocas; plateau lo reduce cuando la validación no mejora.",
        "config": {
            "dataset": {"name": "spiral", "n_samples": 500, "noise": 0.05},
            "model": {"hidden": [16, 16], "activation": "relu"},
            "optimizer": {"name": "momentum", "lr": 0.3},
            "schedule": {"name": "step", "step_size": 25, "gamma": 0.5},
            "training": {"epochs": 150, "batch_size": 10},
        },
    },
    "adaptive-lr": {
        "title": "Adaptive learning rates (Adam)",
        "en": "Adam keeps a learning rate per parameter, scaled by a running average of that parameter's squared "
        "gradients, so rarely-updated and steep directions both get sensible steps.",
        "es": "Adam mantiene un learning rate por parámetro, escalado por un promedio móvil de los gradientes al "
        "cuadrado de ese parámetro.",
        "config": {
            "dataset": {"name": "spiral", "n_samples": 500, "noise": 0.05},
            "model": {"hidden": [16, 16], "activation": "relu"},
            "optimizer": {"name": "adam", "lr": 0.01},
            "training": {"epochs": 150, "batch_size": 10},
        },
    },
    "augmentation-digits": {
        "title": "Data augmentation on digits",
        "en": "With only 20 images per digit, every epoch shows the CNN freshly rotated, zoomed and shifted "
        "copies: the same digit to us, new observations to the model, so it cannot memorize its training "
        "images. Without augmentation it fits every one of them. On these tiny 8x8 digits a 15-degree "
        "rotation or a one-pixel shift is as large as the difference between some digits, so here augmentation "
        "does not raise validation accuracy: it pays on larger images, where such changes keep the digit.",
        "es": "Con solo 20 imágenes por dígito, en cada época la CNN ve copias rotadas, escaladas y desplazadas: "
        "para nosotros el mismo dígito, para el modelo observaciones nuevas, así que no puede memorizar sus "
        "imágenes de entrenamiento. Sin aumentación las acierta todas. En estos dígitos de 8x8 una rotación de "
        "15 grados o un corrimiento de un píxel es tan grande como la diferencia entre algunos dígitos, así que "
        "acá la aumentación no sube la exactitud de validación: rinde con imágenes más grandes, donde esos "
        "cambios conservan el dígito.",
        "config": {
            "dataset": {"name": "digits", "per_class": 20, "val_fraction": 0.3},
            "augmentation": {"rotation_deg": 15, "scale": 0.1, "shift": 0.1, "noise_std": 0.05},
            "model": {"hidden": [32], "dropout": 0.2},
            "optimizer": {"name": "adam", "lr": 0.005},
            "training": {"epochs": 40, "batch_size": 32},
            "telemetry": {"histogram_every": 5},
        },
    },
    "transfer-digits": {
        "title": "Transfer learning: digits 0-4 to digits 5-9",
        "en": "A CNN trained on digits 0-4 keeps its convolutional feature extractor frozen; only the classifier "
        "is retrained on digits 5-9 with just 2 images per class. Compare with strategy scratch (same network, "
        "random start, same epochs). What the frozen features buy is the course's point: with so few images "
        "they overfit less, their validation loss stays nearer its minimum while scratch's climbs further back "
        "up. On these small 8x8 digits they do not buy accuracy: features learned on 0-4 fit 5-9 worse than the "
        "ones scratch learns, and scratch usually ends with the higher validation accuracy.",
        "es": "Una CNN entrenada con los dígitos 0-4 deja fijo su extractor convolucional; solo se reentrena el "
        "clasificador con los dígitos 5-9 y apenas 2 imágenes por clase. Compará con scratch (misma red, inicio "
        "aleatorio, mismas épocas). Lo que dan las características fijas es lo que dice el curso: con tan pocas "
        "imágenes sobreajustan menos, su pérdida de validación queda más cerca de su mínimo mientras la de "
        "scratch vuelve a subir más. Con estos dígitos chicos de 8x8 no dan exactitud: las características "
        "aprendidas con 0-4 sirven peor para 5-9 que las que aprende scratch, que en general termina con más "
        "exactitud de validación.",
        "config": {
            "dataset": {"name": "digits", "classes": [5, 6, 7, 8, 9], "per_class": 2, "val_fraction": 0.5},
            "optimizer": {"name": "adam", "lr": 0.01},
            "training": {"epochs": 40, "batch_size": 25},
            "transfer": {"source": "builtin:digits-0-4", "strategy": "freeze_features"},
            "telemetry": {"histogram_every": 5},
        },
    },
}


def names() -> list[str]:
    return list(PRESETS)


def get(name: str) -> dict:
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    return PRESETS[name]


def config(name: str) -> RunConfig:
    """The full, validated configuration of a preset; `lesson` names the preset, so a run started
    from it reports the lesson's claims in its summary."""
    return RunConfig.model_validate(merge(RunConfig().model_dump(mode="json"), {**get(name)["config"], "lesson": name}))


def claims(name: str) -> list[Claim]:
    """The lesson's claims (see engine/claims.py): run-scope ones are measured on every run of the
    lesson, compare-scope ones by the test suite against the named variant."""
    return get(name).get("claims", [])


# What to look at, and one toggle to flip next ("now try"), for every lesson.
_GUIDE = {
    "vanishing-gradients": (
        (
            "the gradient-norm chart: fc1 sits orders of magnitude below fc6.",
            "el gráfico de normas del gradiente: fc1 queda órdenes de magnitud debajo de fc6.",
        ),
        ("relu activation with He initialization.", "activación relu con inicialización He."),
        {"model": {"activation": "relu"}, "init": {"scheme": "he"}, "optimizer": {"lr": 0.03}},
    ),
    "relu-he": (
        (
            "every layer's gradient norm is of the same order, and the dead-unit share in the histograms.",
            "las normas del gradiente de todas las capas son del mismo orden, y la parte de unidades muertas.",
        ),
        (
            "zeros initialization: nothing breaks the symmetry any more.",
            "inicialización en ceros: ya nada rompe la simetría.",
        ),
        {"init": {"scheme": "zeros"}},
    ),
    "zero-init": (
        (
            "the unit thumbnails of a layer: all identical, epoch after epoch.",
            "las miniaturas de las unidades de una capa: todas iguales, época tras época.",
        ),
        ("xavier initialization.", "inicialización xavier."),
        {"init": {"scheme": "xavier"}},
    ),
    "overfitting-sine": (
        (
            "the gap between the training and validation curves, and the early-stop marker.",
            "la distancia entre las curvas de entrenamiento y validación, y la marca de early stopping.",
        ),
        ("weight decay 0.01 instead of early stopping.", "weight decay 0.01 en lugar de early stopping."),
        {"early_stopping": {"enabled": False}, "optimizer": {"weight_decay": 0.01}},
    ),
    "momentum": (
        (
            "the training-loss curve: it falls smoothly, epoch after epoch.",
            "la curva de pérdida de entrenamiento: baja suave, época tras época.",
        ),
        (
            "plain sgd with the same learning rate: the loss zig-zags up and down and ends higher.",
            "sgd simple con la misma tasa de aprendizaje: la pérdida sube y baja en zigzag y termina más alta.",
        ),
        {"optimizer": {"name": "sgd"}},
    ),
    "batch-norm": (
        (
            "the pre-activation histograms: with batch norm nearly all of them inside [-2.5, 2.5], the "
            "sigmoid's useful range.",
            "los histogramas de pre-activación: con batch norm casi todas dentro de [-2.5, 2.5], el rango útil "
            "de la sigmoide.",
        ),
        (
            "batch norm off: the histograms spread far beyond [-2.5, 2.5].",
            "batch norm apagada: los histogramas se abren mucho más allá de [-2.5, 2.5].",
        ),
        {"model": {"batch_norm": False}},
    ),
    "dropout-mc": (
        (
            "the MC-dropout uncertainty view: the spread is largest between and beyond the two moons.",
            "la vista de incertidumbre MC-dropout: la dispersión es mayor entre las lunas y lejos de los datos.",
        ),
        (
            "dropout 0: every pass agrees and the spread vanishes.",
            "dropout 0: todas las pasadas coinciden y la dispersión desaparece.",
        ),
        {"model": {"dropout": 0.0}},
    ),
    "standardization-wine": (
        ("the validation loss after 30 epochs.", "la pérdida de validación después de 30 épocas."),
        ("standardize off.", "standardize apagado."),
        {"preprocessing": {"standardize": False}},
    ),
    "weight-decay": (
        (
            "the penalty curve (dashed) and the validation loss, which stays low.",
            "la curva de penalización (punteada) y la pérdida de validación, que se queda baja.",
        ),
        (
            "weight decay 0: the weights grow and the validation loss climbs (the overfitting lesson).",
            "weight decay 0: los pesos crecen y la pérdida de validación sube (la lección de sobreajuste).",
        ),
        {"optimizer": {"weight_decay": 0.0}},
    ),
    "lr-schedule": (
        (
            "the learning-rate chart and its LR↓ markers, and the loss settling after each cut.",
            "la tasa de aprendizaje con sus marcas LR↓, y la pérdida que se asienta después de cada corte.",
        ),
        (
            "schedule plateau: halve the LR after 10 epochs without a better validation loss, never below 0.01.",
            "programa plateau: dividir el LR por 2 tras 10 épocas sin mejor pérdida de validación, nunca bajo 0.01.",
        ),
        {"schedule": {"name": "plateau", "patience": 10, "min_lr": 0.01}},
    ),
    "adaptive-lr": (
        (
            "how quickly the spiral is separated compared with plain SGD.",
            "qué tan rápido se separa el espiral comparado con SGD.",
        ),
        ("optimizer sgd at the same learning rate.", "optimizador sgd con la misma tasa de aprendizaje."),
        {"optimizer": {"name": "sgd"}},
    ),
    "augmentation-digits": (
        (
            "the strip of augmented samples under the data controls, and the training accuracy: below 100%.",
            "la tira de muestras aumentadas bajo los controles de datos, y la exactitud de entrenamiento: "
            "menos de 100%.",
        ),
        (
            "rotation 0, zoom 0 and shift 0: no augmentation, the training images are memorized.",
            "rotación 0, escala 0 y desplazamiento 0: sin aumentación, las imágenes de entrenamiento se memorizan.",
        ),
        {"augmentation": {"rotation_deg": 0, "scale": 0, "shift": 0, "noise_std": 0}},
    ),
    "transfer-digits": (
        (
            "the validation loss: with the features frozen (learned on digits 0-4) it stays near its minimum.",
            "la pérdida de validación: con las características fijas (aprendidas con 0-4) queda cerca de su mínimo.",
        ),
        (
            "strategy scratch: the same network from a random start; its validation loss climbs back up.",
            "estrategia scratch: la misma red desde un inicio aleatorio; su pérdida de validación vuelve a subir.",
        ),
        {"transfer": {"strategy": "scratch"}},
    ),
}

for _name, ((_look_en, _look_es), (_try_en, _try_es), _override) in _GUIDE.items():
    PRESETS[_name]["look"] = {"en": _look_en, "es": _look_es}
    PRESETS[_name]["try"] = {"en": _try_en, "es": _try_es, "config": _override}

_TITLES_ES = {
    "vanishing-gradients": "Gradiente que se desvanece con sigmoide",
    "relu-he": "Red ReLU profunda con inicialización He",
    "zero-init": "Inicialización en ceros: el problema de la simetría",
    "overfitting-sine": "Sobreajuste, y early stopping con paciencia",
    "momentum": "Momentum contra SGD simple",
    "batch-norm": "Batch normalization",
    "dropout-mc": "Dropout e incertidumbre con MC-dropout",
    "standardization-wine": "Estandarización de las entradas en wine",
    "weight-decay": "Weight decay (penalización L2)",
    "lr-schedule": "Programas de la tasa de aprendizaje",
    "adaptive-lr": "Tasa de aprendizaje adaptativa (Adam)",
    "augmentation-digits": "Aumentación de datos en dígitos",
    "transfer-digits": "Transferencia: de los dígitos 0-4 a los 5-9",
}
for _name, _title in _TITLES_ES.items():
    PRESETS[_name]["title_es"] = _title

# Each lesson's sentences as measurements (engine/claims.py). scope "run": measured on every run of
# the lesson and shown under its text; scope "compare": the lesson run against a variant ("try" =
# the "now try" override above), checked on several seeds by tests/engine/test_lesson_claims.py.
_CLAIMS: dict[str, list[Claim]] = {
    "vanishing-gradients": [
        Claim(
            "first-layer-gradient-vanishes",
            "grad_ratio",
            "<=",
            0.01,
            "fc1's gradient norm is {value:.2%} of fc6's (mean over the epochs)",
            "la norma del gradiente de fc1 es {value:.2%} de la de fc6 (promedio de las épocas)",
            args={"first": "fc1", "last": "fc6"},
        ),
        Claim(
            "network-stalls",
            "final",
            "<=",
            0.65,
            "validation accuracy {value:.0%}: the network barely beats a coin toss",
            "exactitud de validación {value:.0%}: la red casi no supera a tirar una moneda",
            args={"key": "val_acc"},
        ),
        Claim(
            "relu-he-learns",
            "final",
            ">=",
            0.3,
            "relu with He init ends {value:.0%} points above sigmoid in validation accuracy",
            "relu con He termina {value:.0%} puntos arriba de sigmoide en exactitud de validación",
            scope="compare",
            against="try",
            combine="gain",
            args={"key": "val_acc"},
        ),
    ],
    "relu-he": [
        Claim(
            "gradients-same-order",
            "grad_ratio",
            ">=",
            0.1,
            "fc1's gradient norm is {value:.2f} times fc6's: the same order of magnitude",
            "la norma del gradiente de fc1 es {value:.2f} veces la de fc6: el mismo orden de magnitud",
            args={"first": "fc1", "last": "fc6"},
        ),
        Claim(
            "network-learns",
            "final",
            ">=",
            0.85,
            "validation accuracy {value:.0%}",
            "exactitud de validación {value:.0%}",
            args={"key": "val_acc"},
        ),
        Claim(
            "zeros-stall",
            "final",
            ">=",
            0.3,
            "with zeros initialization validation accuracy is {value:.0%} points lower",
            "con inicialización en ceros la exactitud de validación es {value:.0%} puntos menor",
            scope="compare",
            against="try",
            args={"key": "val_acc"},
        ),
    ],
    "zero-init": [
        Claim(
            "units-stay-copies",
            "unit_spread",
            "<=",
            1e-6,
            "largest difference between two units' weights in a layer: {value:.1e}, every unit is a copy",
            "mayor diferencia entre los pesos de dos unidades de una capa: {value:.1e}, todas son copias",
        ),
        Claim(
            "xavier-breaks-symmetry",
            "unit_spread",
            ">=",
            0.1,
            "with xavier the units of a layer differ by up to {value:.2f}",
            "con xavier las unidades de una capa difieren hasta {value:.2f}",
            scope="compare",
            against="try",
            combine="variant",
        ),
        Claim(
            "xavier-learns",
            "final",
            ">=",
            0.2,
            "xavier ends {value:.0%} points above zeros in validation accuracy",
            "xavier termina {value:.0%} puntos arriba de ceros en exactitud de validación",
            scope="compare",
            against="try",
            combine="gain",
            args={"key": "val_acc"},
        ),
    ],
    "overfitting-sine": [
        Claim(
            "validation-turns-up",
            "val_rise",
            ">=",
            0.03,
            "validation loss rose {value:.0%} above its minimum of epoch {min_epoch}",
            "la pérdida de validación subió {value:.0%} sobre su mínimo de la época {min_epoch}",
        ),
        Claim(
            "training-keeps-falling",
            "train_drop_after_val_min",
            ">=",
            0.2,
            "meanwhile the training loss fell another {value:.0%}",
            "mientras tanto la pérdida de entrenamiento bajó otro {value:.0%}",
        ),
        Claim(
            "best-after-warm-up",
            "best_epoch",
            ">=",
            2,
            "the best epoch is {value:.0f}, past the first ones",
            "la mejor época es la {value:.0f}, después de las primeras",
        ),
        Claim(
            "stops-after-patience",
            "stop_wait",
            "==",
            "early_stopping.patience",
            "early stopping stopped at epoch {stopped_epoch}, {value:.0f} epochs after the best "
            "(patience {threshold:.0f})",
            "early stopping frenó en la época {stopped_epoch}, {value:.0f} épocas después de la mejor "
            "(paciencia {threshold:.0f})",
        ),
        Claim(
            "restores-best",
            "restored_is_best",
            "==",
            1,
            "the model handed back is epoch {restored_epoch}'s, the best",
            "el modelo final es el de la época {restored_epoch}, la mejor",
        ),
        Claim(
            "without-stopping-validation-keeps-rising",
            "val_rise",
            ">=",
            0.5,
            "without early stopping the validation loss ends {value:.0%} above its minimum",
            "sin early stopping la pérdida de validación termina {value:.0%} arriba de su mínimo",
            scope="compare",
            against={"early_stopping": {"enabled": False}},
            combine="variant",
        ),
    ],
    "momentum": [
        Claim(
            "momentum-descends-smoothly",
            "loss_increases",
            "<=",
            0.1,
            "the training loss rose in only {value:.0%} of the epochs",
            "la pérdida de entrenamiento subió solo en {value:.0%} de las épocas",
        ),
        Claim(
            "sgd-zig-zags",
            "loss_increases",
            ">=",
            0.15,
            "plain SGD's training loss rises in {value:.0%} more of the epochs (zig-zag)",
            "con SGD simple la pérdida de entrenamiento sube en {value:.0%} más de las épocas (zigzag)",
            scope="compare",
            against="try",
            combine="gain",
        ),
        Claim(
            "momentum-ends-lower",
            "last",
            "<=",
            0.8,
            "momentum's final training loss is {value:.0%} of plain SGD's",
            "la pérdida de entrenamiento final con momentum es {value:.0%} de la de SGD simple",
            scope="compare",
            against="try",
            combine="ratio",
            args={"key": "train_loss"},
        ),
    ],
    "batch-norm": [
        Claim(
            "pre-activations-in-range",
            "active_fraction",
            ">=",
            0.85,
            "{value:.0%} of {layer}'s pre-activations lie in [-2.5, 2.5], the sigmoid's useful range "
            "(worst layer, last epoch)",
            "{value:.0%} de las pre-activaciones de {layer} caen en [-2.5, 2.5], el rango útil de la "
            "sigmoide (peor capa, última época)",
        ),
        Claim(
            "learns",
            "final",
            ">=",
            0.85,
            "validation accuracy {value:.0%}",
            "exactitud de validación {value:.0%}",
            args={"key": "val_acc"},
        ),
        Claim(
            "without-bn-outside-range",
            "active_fraction_mean",
            ">=",
            0.25,
            "without batch norm {value:.0%} fewer pre-activations lie in [-2.5, 2.5] (all layers and epochs)",
            "sin batch norm hay {value:.0%} menos pre-activaciones en [-2.5, 2.5] (todas las capas y épocas)",
            scope="compare",
            against="try",
        ),
        Claim(
            "without-bn-tails",
            "active_fraction_mean",
            "<=",
            0.7,
            "without batch norm only {value:.0%} of the pre-activations lie in [-2.5, 2.5] (all layers and "
            "epochs): the rest are on the flat tails",
            "sin batch norm solo el {value:.0%} de las pre-activaciones cae en [-2.5, 2.5] (todas las capas y "
            "épocas): el resto está en las colas planas",
            scope="compare",
            against="try",
            combine="variant",
        ),
    ],
    "dropout-mc": [
        Claim(
            "spread-where-fragile",
            "mc_spread_ratio",
            ">=",
            1.5,
            "the MC-dropout spread is {value:.1f} times larger where the prediction is fragile",
            "la dispersión MC-dropout es {value:.1f} veces mayor donde la predicción es frágil",
        ),
        Claim(
            "no-dropout-no-spread",
            "mc_spread",
            "<=",
            1e-6,
            "with dropout 0 the spread is {value:.1e}: every pass agrees",
            "con dropout 0 la dispersión es {value:.1e}: todas las pasadas coinciden",
            scope="compare",
            against="try",
            combine="variant",
        ),
    ],
    "standardization-wine": [
        Claim(
            "learns-in-30-epochs",
            "final",
            ">=",
            0.8,
            "validation accuracy {value:.0%} after 30 epochs",
            "exactitud de validación {value:.0%} después de 30 épocas",
            args={"key": "val_acc"},
        ),
        Claim(
            "raw-features-slower",
            "final",
            "<=",
            0.5,
            "validation loss with standardization is {value:.0%} of the loss without it",
            "la pérdida de validación con estandarización es {value:.0%} de la que hay sin ella",
            scope="compare",
            against="try",
            combine="ratio",
            args={"key": "val_loss"},
        ),
    ],
    "weight-decay": [
        Claim(
            "penalty-is-visible",
            "penalty_share",
            ">=",
            0.2,
            "the penalty (1/2)*lambda*||w||^2 is {value:.0%} of the training loss",
            "la penalización (1/2)*lambda*||w||^2 es {value:.0%} de la pérdida de entrenamiento",
        ),
        Claim(
            "weights-stay-small",
            "weight_norm_total",
            "<=",
            0.85,
            "the weights' norm ends at {value:.0%} of its value without decay",
            "la norma de los pesos termina en {value:.0%} de la que tiene sin decay",
            scope="compare",
            against="try",
            combine="ratio",
        ),
        Claim(
            "validation-stays-lower",
            "last",
            "<=",
            0.95,
            "the final validation loss is {value:.0%} of the loss without decay",
            "la pérdida de validación final es {value:.0%} de la que hay sin decay",
            scope="compare",
            against="try",
            combine="ratio",
            args={"key": "val_loss"},
        ),
    ],
    "lr-schedule": [
        Claim(
            "lr-cut-in-steps",
            "lr_cuts",
            ">=",
            3,
            "the learning rate was halved {value:.0f} times, down to {final_lr:.3g}",
            "la tasa de aprendizaje se dividió por 2 {value:.0f} veces, hasta {final_lr:.3g}",
        ),
        Claim(
            "learns",
            "final",
            ">=",
            0.8,
            "validation accuracy {value:.0%}",
            "exactitud de validación {value:.0%}",
            args={"key": "val_acc"},
        ),
        Claim(
            "settles-after-cuts",
            "jitter",
            "<=",
            0.5,
            "over the last 25 epochs the training loss moves {value:.0%} as much as with a constant LR",
            "en las últimas 25 épocas la pérdida de entrenamiento se mueve {value:.0%} de lo que se mueve "
            "con LR constante",
            scope="compare",
            against={"schedule": {"name": "constant"}},
            combine="ratio",
            args={"key": "train_loss", "last": 25},
        ),
        Claim(
            "plateau-cuts-a-few-times",
            "lr_cuts",
            "<=",
            8,
            "plateau cut the learning rate {value:.0f} times",
            "plateau redujo la tasa de aprendizaje {value:.0f} veces",
            scope="compare",
            against="try",
            combine="variant",
        ),
    ],
    "adaptive-lr": [
        Claim(
            "adam-is-fast",
            "epochs_to",
            "<=",
            125,
            "validation accuracy reached 90% at epoch {value:.0f}",
            "la exactitud de validación llegó a 90% en la época {value:.0f}",
            args={"key": "val_acc", "level": 0.9},
        ),
        Claim(
            "sgd-is-behind",
            "final",
            ">=",
            0.1,
            "plain SGD at the same LR ends {value:.0%} lower in validation accuracy",
            "SGD simple con el mismo LR termina {value:.0%} más abajo en exactitud de validación",
            scope="compare",
            against="try",
            args={"key": "val_acc"},
        ),
    ],
    "augmentation-digits": [
        Claim(
            "no-augmentation-memorizes",
            "last",
            ">=",
            0.99,
            "without augmentation the network gets {value:.0%} of its training images right",
            "sin aumentación la red acierta {value:.0%} de sus imágenes de entrenamiento",
            scope="compare",
            against="try",
            combine="variant",
            args={"key": "train_acc"},
        ),
        Claim(
            "augmentation-prevents-memorizing",
            "last",
            ">=",
            0.02,
            "with augmentation training accuracy stays {value:.0%} lower: the images are not memorized",
            "con aumentación la exactitud de entrenamiento queda {value:.0%} más baja: no se memorizan",
            scope="compare",
            against="try",
            combine="gain",
            args={"key": "train_acc"},
        ),
        Claim(
            "training-accuracy-below-100",
            "last",
            "<=",
            0.99,
            "training accuracy {value:.0%} on the (unaugmented) training images",
            "exactitud de entrenamiento {value:.0%} sobre las imágenes de entrenamiento (sin aumentar)",
            args={"key": "train_acc"},
        ),
    ],
    # Frozen features vs scratch at 2 images per class, the same 40 epochs (seeds 101/202/303): the
    # validation loss ends 4%/10%/7% above its minimum with frozen features, 19%/36%/134% from scratch;
    # scratch's validation accuracy is 9/16/17 points higher. Both sentences are the lesson's text.
    "transfer-digits": [
        Claim(
            "frozen-features-barely-overfit",
            "val_rise",
            "<=",
            0.5,
            "with frozen features the validation loss ends {value:.0%} above its minimum",
            "con características fijas la pérdida de validación termina {value:.0%} arriba de su mínimo",
        ),
        Claim(
            "scratch-overfits-more",
            "val_rise",
            ">=",
            0.1,
            "from scratch the validation loss climbs {value:.0%} more above its minimum",
            "desde cero la pérdida de validación sube {value:.0%} más sobre su mínimo",
            scope="compare",
            against="try",
            combine="gain",
        ),
        Claim(
            "scratch-more-accurate-on-8x8",
            "final",
            ">=",
            -0.1,
            "from scratch the validation accuracy ends {value:+.0%} against the frozen features': features "
            "from 0-4 give 5-9 no clear gain",
            "desde cero la exactitud de validación termina {value:+.0%} frente a la de las características fijas: "
            "las de 0-4 no le dan a 5-9 una ganancia clara",
            scope="compare",
            against="try",
            combine="gain",
            args={"key": "val_acc"},
        ),
    ],
}
LESSON_NAMES.update(PRESETS)
for _name, _claims in _CLAIMS.items():
    PRESETS[_name]["claims"] = _claims

# ---- unit knock-out lesson (issue 13): what dropout buys, tested by switching units off ------------
PRESETS["dropout-knockout"] = {
    "title": "Dropout: no unit is indispensable",
    "title_es": "Dropout: ninguna unidad es indispensable",
    "en": "Dropout switches each hidden unit off at random while training, so the network cannot rely on one "
    "or a few units. Test it: pause, switch off (knock out) the hidden unit that matters most and watch the "
    "validation accuracy. Then train the same network without dropout and knock out its most important unit.",
    "es": "El dropout apaga al azar cada unidad oculta durante el entrenamiento, así la red no puede depender de "
    "una o pocas unidades. Probalo: pausá, apagá la unidad oculta que más importa y mirá la exactitud de "
    "validación. Después entrená la misma red sin dropout y apagá su unidad más importante.",
    "config": {
        "dataset": {"name": "circle", "n_samples": 400},
        "model": {"hidden": [8, 8], "activation": "relu", "dropout": 0.3},
        "optimizer": {"name": "adam", "lr": 0.01},
        "training": {"epochs": 60, "batch_size": 16},
    },
    "look": {
        "en": "the validation accuracy when one hidden unit is knocked out (modifier-click a unit in the diagram).",
        "es": "la exactitud de validación al apagar una unidad oculta (clic con modificador en el diagrama).",
    },
    "try": {
        "en": "dropout 0: the same network may lean on a few units.",
        "es": "dropout 0: la misma red puede apoyarse en pocas unidades.",
        "config": {"model": {"dropout": 0.0}},
    },
    "claims": [
        Claim(
            "dropout-survives-knockout",
            "knockout_drop",
            "<",
            0.0,
            "knocking out the most important unit costs {lesson:.1%} of validation accuracy with dropout and "
            "{variant:.1%} without: {value:+.1%}",
            "apagar la unidad más importante cuesta {lesson:.1%} de exactitud de validación con dropout y "
            "{variant:.1%} sin él: {value:+.1%}",
            scope="compare",
            against="try",
        )
    ],
}
LESSON_NAMES.add("dropout-knockout")

# ---- sweep lesson (issue 14): three learning rates in one picture, trained together as a sweep ---------
# `sweep` (vary, mode) is what the page hands POST /api/sweeps with the preset's config as `base`; the
# compare claims' variants are the sweep's other two values, so the claims read the sweep's own runs.
PRESETS["lr-too-small-right-too-large"] = {
    "title": "Learning rate: too small, right, too large",
    "title_es": "Tasa de aprendizaje: muy chica, justa, muy grande",
    "en": "The same network trained three times at once, with learning rates 0.001, 0.1 and 10. Too small: "
    "the steps are so short that after 40 epochs the loss has hardly moved. Right: the loss falls fast and the "
    "circle is found. Too large: every step overshoots the valley, the loss jumps around far above the start "
    "and the boundary is nonsense.",
    "es": "La misma red entrenada tres veces a la vez, con tasas de aprendizaje 0.001, 0.1 y 10. Muy chica: los "
    "pasos son tan cortos que después de 40 épocas la pérdida casi no se movió. Justa: la pérdida baja rápido y "
    "la red encuentra el círculo. Muy grande: cada paso se pasa del valle, la pérdida salta muy por encima del "
    "inicio y la frontera no tiene sentido.",
    "config": {
        "dataset": {"name": "circle", "n_samples": 300},
        "model": {"hidden": [8, 8], "activation": "tanh"},
        "optimizer": {"name": "sgd", "lr": 0.1},
        "training": {"epochs": 40, "batch_size": 10},
    },
    "sweep": {"vary": {"optimizer.lr": [0.001, 0.1, 10.0]}, "mode": "grid"},
    "look": {
        "en": "the three loss curves side by side, and each variant's decision surface.",
        "es": "las tres curvas de pérdida juntas, y la superficie de decisión de cada variante.",
    },
    "try": {
        "en": "optimizer adam: its steps adapt to the gradient's size, so the three rates end closer together.",
        "es": "optimizador adam: sus pasos se adaptan al tamaño del gradiente y las tres tasas terminan más cerca.",
        "config": {"optimizer": {"name": "adam"}},
    },
    "claims": [
        Claim(
            "right-rate-learns",
            "final",
            ">=",
            0.9,
            "with learning rate 0.1 the validation accuracy is {value:.0%}",
            "con tasa 0.1 la exactitud de validación es {value:.0%}",
            args={"key": "val_acc"},
        ),
        Claim(
            "too-small-barely-moves",
            "final",
            ">=",
            0.2,
            "learning rate 0.001 ends {value:.0%} points below 0.1 in validation accuracy: it has hardly moved",
            "la tasa 0.001 termina {value:.0%} puntos debajo de 0.1 en exactitud de validación: casi no se movió",
            scope="compare",
            against={"optimizer": {"lr": 0.001}},
            args={"key": "val_acc"},
        ),
        Claim(
            "too-large-overshoots",
            "final",
            ">=",
            0.5,
            "learning rate 10 ends with a validation loss {value:.1f} above 0.1's: its steps overshoot",
            "la tasa 10 termina con una pérdida de validación {value:.1f} por encima de la de 0.1: sus pasos se pasan",
            scope="compare",
            against={"optimizer": {"lr": 10.0}},
            combine="gain",
            args={"key": "val_loss"},
        ),
    ],
}
LESSON_NAMES.add("lr-too-small-right-too-large")
