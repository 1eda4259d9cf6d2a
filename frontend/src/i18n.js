// English and Spanish for every text of the UI (the course is taught in Spanish). The language
// defaults to the browser's and is remembered. Field labels cover every configuration field; a field
// added to the engine without a label here shows its own name until one is written.

const STRINGS = {
  en: {
    "nav.playground": "Playground", "nav.lab": "Optimizer lab",
    "top.epoch": "Epoch", "top.speed": "Speed", "top.lesson": "Lesson", "top.free": "— free play —",
    "top.share": "Share", "top.max": "max",
    "tip.reset": "Reset: a new network (r)", "tip.play": "Train / pause (space)", "tip.step": "One epoch (s)",
    "tip.stop": "Stop this run", "tip.share": "Copy a link to this exact configuration",
    "sec.data": "Data", "sec.pre": "Preprocessing", "sec.aug": "Augmentation", "sec.net": "Network",
    "sec.layers": "Layers", "sec.init": "Initialization", "sec.opt": "Optimizer", "sec.sched": "Schedule",
    "sec.train": "Training", "sec.es": "Early stopping", "sec.transfer": "Transfer learning", "sec.tel": "Telemetry",
    "sec.out": "Output", "btn.regen": "Regenerate", "layers.n": "{n} hidden layers",
    "fig.train": "Train loss", "fig.val": "Validation loss", "fig.acc": "Val. accuracy", "fig.r2": "Val. R²",
    "fig.best": "Best epoch", "out.val": "validation points", "out.mc": "MC-dropout uncertainty",
    "out.draw": "draw points", "out.scrub": "Epoch view", "out.live": "live",
    "out.drawhint": "Draw points: click for blue (class 1), shift-click for orange (class 0).",
    "out.press": "press ▶ to train", "out.restore": "continue from here",
    "chart.loss": "Loss", "chart.log": "log scale", "chart.pin": "Pin as baseline", "chart.acc": "Accuracy",
    "chart.r2": "R² (train / validation)", "chart.grad": "Gradient norm per layer", "chart.lr": "Learning rate",
    "chart.hist": "Histograms", "hist.pre": "pre-activations", "hist.act": "activations", "hist.weight": "weights",
    "hist.grad": "gradients", "hist.shared": "same x-range for every layer", "runs.title": "Runs", "runs.run": "run", "runs.data": "data", "runs.status": "status",
    "runs.epoch": "epoch", "runs.val": "val loss", "runs.score": "score", "runs.delete": "delete",
    "runs.export": "Export:", "lesson.look": "Look at:", "lesson.try": "Now try:", "lesson.apply": "try it",
    "data.summary": "{train} training / {val} validation samples, {task}.", "data.classes": "{n} classes",
    "data.regression": "regression", "status.ready": "ready", "msg.linkcopied": "Link copied: it opens this exact configuration.",
    "msg.pinfirst": "Train a run first, then pin it.", "msg.nodropout": "MC dropout needs dropout > 0: with every unit kept, all passes agree (spread 0).",
    "msg.unreachable": "The server cannot be reached.", "msg.lost": "Connection to the server lost: reconnecting…",
    "msg.back": "Reconnected: the run resumes where it was.", "enabled": "enabled",
    "lab.title": "Optimizer lab", "lab.function": "function", "lab.steps": "steps", "lab.start": "start",
    "lab.optimizer": "optimizer", "lab.add": "+ optimizer", "lab.run": "Run", "lab.diverged": "diverged",
    "lab.intro": "Every optimizer starts from the same point (click the plot to move it) and takes the same number of steps. The paths are computed on the server by the same PyTorch optimizers the networks use.",
    "foot.keys": "keyboard: space play/pause, s step, r reset",
    "out.epoch_n": "epoch {n}", "net.input": "input", "net.output": "output", "net.params": "{n} parameters", "net.more": "… {n} more",
    "chart.train": "train", "chart.validation": "validation", "chart.penalty": "penalty ½λ‖w‖²", "chart.baseline": "baseline",
    "health": "{alive} workers · {busy} busy · {queued} queued", "room.code": "room code", "room.name": "your name",
    "room.join": "Join room", "room.label": "Room", "room.leave": "leave", "room.closed": "The teacher closed the room.",
    "room.teacher_run": "The teacher's run", "room.spotlight": "Spotlight: {name}'s run", "room.a_student": "a student",
    "room.following": " ({id}): your page follows it.", "room.lesson": "New lesson from the teacher: {title}",
    "room.lesson_title": "Lesson", "room.config": "a configuration",
    "t.brand": "teacher", "t.joincode": "Join code", "t.newroom": "New room", "t.projector": "Projector view",
    "t.closeroom": "Close room", "t.login1": "Teacher sign-in needed.", "t.login2": "Open the teacher link that",
    "t.login3": "printed (it ends with", "t.bc_h": "Broadcast a run", "t.start_bc": "Start & broadcast",
    "t.or_run": "or run id", "t.bc": "Broadcast", "t.unbc": "Stop showing", "t.nothing": "Nothing is shown to the room.",
    "t.push_h": "Push a lesson", "t.preset": "Preset", "t.none_cfg": "— none (configuration below) —", "t.title_ph": "title",
    "t.text_ph": "instructions for the students",
    "t.cfg_ph": 'configuration JSON, e.g. {"dataset": {"name": "spiral"}, "model": {"hidden": [16]}}',
    "t.push": "Push to every student", "t.students_h": "Students", "t.sort_hint": "click a column to sort",
    "t.c_name": "name", "t.c_online": "online", "t.c_acc": "val acc", "t.c_best": "best acc", "t.c_toggles": "toggles",
    "t.footer": "teacher dashboard", "t.no_run": "no run yet", "t.spot": "spotlight", "t.stop": "stop",
    "t.not_classroom": "This server is not in classroom mode: start it with nnplayground serve --classroom.",
    "t.create_start": "Create a room to start.", "t.create_first": "Create a room first.",
    "t.room_closed": "Room {code} is closed.", "t.spotlight_on": "Spotlight on {name}'s run {id}.",
    "t.broadcasting": "Broadcasting run {id}.", "t.count": "{n} students, {online} online",
    "t.bad_json": "The configuration is not valid JSON.", "t.pushed": "Lesson pushed to every student.",
    "t.failed": "The dashboard could not start: {message}", "t.close_confirm": "Close room {code}? Students leave it.",
    "t.hint1": "Students: open ", "t.hint2": " and join with the code ", "t.hint3": ".",
    "t.room_1": "{code} · 1 student", "t.room_n": "{code} · {n} students",
    "msg.csvcell": "CSV row {n}: every cell must be a number (features…, label)", "msg.csvrows": "CSV: at least 4 rows are needed",
    "chart.baseline_of": "baseline: run {id} (dashed)", "msg.nostart": "The playground could not start: {message}",
    "status.queued": "queued", "status.queued_at": "queued (#{n})", "status.running": "running", "status.paused": "paused",
    "status.completed": "completed", "status.early_stopped": "early-stopped", "status.early_at": "early-stopped at {e} (best {b})",
    "status.diverged": "diverged", "status.stopped": "stopped", "status.failed": "failed", "status.interrupted": "interrupted",
  },
  es: {
    "nav.playground": "Playground", "nav.lab": "Laboratorio de optimizadores",
    "top.epoch": "Época", "top.speed": "Velocidad", "top.lesson": "Lección", "top.free": "— juego libre —",
    "top.share": "Compartir", "top.max": "máx",
    "tip.reset": "Reiniciar: una red nueva (r)", "tip.play": "Entrenar / pausar (espacio)", "tip.step": "Una época (s)",
    "tip.stop": "Detener esta corrida", "tip.share": "Copiar un enlace a esta configuración exacta",
    "sec.data": "Datos", "sec.pre": "Preprocesamiento", "sec.aug": "Aumentación", "sec.net": "Red",
    "sec.layers": "Capas", "sec.init": "Inicialización", "sec.opt": "Optimizador", "sec.sched": "Programa de LR",
    "sec.train": "Entrenamiento", "sec.es": "Early stopping", "sec.transfer": "Transferencia de aprendizaje",
    "sec.tel": "Telemetría", "sec.out": "Salida", "btn.regen": "Regenerar", "layers.n": "{n} capas ocultas",
    "fig.train": "Pérdida de entrenamiento", "fig.val": "Pérdida de validación", "fig.acc": "Exactitud (val.)",
    "fig.r2": "R² (val.)", "fig.best": "Mejor época", "out.val": "puntos de validación",
    "out.mc": "incertidumbre MC-dropout", "out.draw": "dibujar puntos", "out.scrub": "Ver época", "out.live": "en vivo",
    "out.drawhint": "Dibujar puntos: clic para azul (clase 1), shift-clic para naranja (clase 0).",
    "out.press": "apretá ▶ para entrenar", "out.restore": "seguir desde acá",
    "chart.loss": "Pérdida", "chart.log": "escala log", "chart.pin": "Fijar como referencia", "chart.acc": "Exactitud",
    "chart.r2": "R² (entrenamiento / validación)", "chart.grad": "Norma del gradiente por capa",
    "chart.lr": "Tasa de aprendizaje", "chart.hist": "Histogramas", "hist.pre": "pre-activaciones",
    "hist.act": "activaciones", "hist.weight": "pesos", "hist.grad": "gradientes", "hist.shared": "mismo rango x en todas las capas", "runs.title": "Corridas",
    "runs.run": "corrida", "runs.data": "datos", "runs.status": "estado", "runs.epoch": "época",
    "runs.val": "pérdida val.", "runs.score": "métrica", "runs.delete": "borrar", "runs.export": "Exportar:",
    "lesson.look": "Mirá:", "lesson.try": "Ahora probá:", "lesson.apply": "probar",
    "data.summary": "{train} muestras de entrenamiento / {val} de validación, {task}.", "data.classes": "{n} clases",
    "data.regression": "regresión", "status.ready": "lista", "msg.linkcopied": "Enlace copiado: abre esta configuración exacta.",
    "msg.pinfirst": "Primero entrená una corrida y después fijala.",
    "msg.nodropout": "MC dropout necesita dropout > 0: sin apagar unidades todas las pasadas coinciden (dispersión 0).",
    "msg.unreachable": "No se puede contactar al servidor.", "msg.lost": "Se perdió la conexión con el servidor: reconectando…",
    "msg.back": "Reconectado: la corrida sigue donde estaba.", "enabled": "activado",
    "lab.title": "Laboratorio de optimizadores", "lab.function": "función", "lab.steps": "pasos", "lab.start": "inicio",
    "lab.optimizer": "optimizador", "lab.add": "+ optimizador", "lab.run": "Correr", "lab.diverged": "divergió",
    "lab.intro": "Todos los optimizadores arrancan del mismo punto (clic en el gráfico para moverlo) y dan la misma cantidad de pasos. Los caminos los calcula el servidor con los mismos optimizadores de PyTorch que entrenan las redes.",
    "foot.keys": "teclado: espacio entrenar/pausar, s paso, r reiniciar",
    "out.epoch_n": "época {n}", "net.input": "entrada", "net.output": "salida", "net.params": "{n} parámetros", "net.more": "… {n} más",
    "chart.train": "entrenamiento", "chart.validation": "validación", "chart.penalty": "penalización ½λ‖w‖²", "chart.baseline": "referencia",
    "health": "{alive} procesos · {busy} ocupados · {queued} en cola", "room.code": "código de sala", "room.name": "tu nombre",
    "room.join": "Entrar a la sala", "room.label": "Sala", "room.leave": "salir", "room.closed": "El docente cerró la sala.",
    "room.teacher_run": "La corrida del docente", "room.spotlight": "En foco: la corrida de {name}", "room.a_student": "un estudiante",
    "room.following": " ({id}): tu página la sigue.", "room.lesson": "Nueva lección del docente: {title}",
    "room.lesson_title": "Lección", "room.config": "una configuración",
    "t.brand": "docente", "t.joincode": "Código", "t.newroom": "Nueva sala", "t.projector": "Vista para proyectar",
    "t.closeroom": "Cerrar sala", "t.login1": "Falta iniciar sesión como docente.", "t.login2": "Abrí el enlace de docente que imprimió",
    "t.login3": "(termina en", "t.bc_h": "Transmitir una corrida", "t.start_bc": "Iniciar y transmitir",
    "t.or_run": "o id de corrida", "t.bc": "Transmitir", "t.unbc": "Dejar de mostrar", "t.nothing": "No se muestra nada a la sala.",
    "t.push_h": "Enviar una lección", "t.preset": "Lección", "t.none_cfg": "— ninguna (configuración abajo) —", "t.title_ph": "título",
    "t.text_ph": "consignas para los estudiantes",
    "t.cfg_ph": 'configuración en JSON, p. ej. {"dataset": {"name": "spiral"}, "model": {"hidden": [16]}}',
    "t.push": "Enviar a todos los estudiantes", "t.students_h": "Estudiantes", "t.sort_hint": "clic en una columna para ordenar",
    "t.c_name": "nombre", "t.c_online": "conectado", "t.c_acc": "exactitud val.", "t.c_best": "mejor exactitud", "t.c_toggles": "opciones",
    "t.footer": "panel docente", "t.no_run": "sin corridas", "t.spot": "en foco", "t.stop": "detener",
    "t.not_classroom": "Este servidor no está en modo aula: inicialo con nnplayground serve --classroom.",
    "t.create_start": "Creá una sala para empezar.", "t.create_first": "Primero creá una sala.",
    "t.room_closed": "La sala {code} está cerrada.", "t.spotlight_on": "En foco: la corrida {id} de {name}.",
    "t.broadcasting": "Transmitiendo la corrida {id}.", "t.count": "{n} estudiantes, {online} conectados",
    "t.bad_json": "La configuración no es un JSON válido.", "t.pushed": "Lección enviada a todos los estudiantes.",
    "t.failed": "El panel no pudo iniciar: {message}", "t.close_confirm": "¿Cerrar la sala {code}? Los estudiantes salen de ella.",
    "t.hint1": "Estudiantes: abran ", "t.hint2": " y entren con el código ", "t.hint3": ".",
    "t.room_1": "{code} · 1 estudiante", "t.room_n": "{code} · {n} estudiantes",
    "msg.csvcell": "CSV, fila {n}: cada celda debe ser un número (features…, etiqueta)", "msg.csvrows": "CSV: hacen falta al menos 4 filas",
    "chart.baseline_of": "referencia: corrida {id} (punteada)", "msg.nostart": "El playground no pudo iniciar: {message}",
    "status.queued": "en cola", "status.queued_at": "en cola (#{n})", "status.running": "entrenando", "status.paused": "en pausa",
    "status.completed": "terminada", "status.early_stopped": "early stopping", "status.early_at": "frenó en {e} (mejor {b})",
    "status.diverged": "divergió", "status.stopped": "detenida", "status.failed": "falló", "status.interrupted": "interrumpida",
  },
};

const FIELDS = {
  en: {
    "dataset.name": "data set", "dataset.n_samples": "samples", "dataset.noise": "noise",
    "dataset.val_fraction": "validation share", "dataset.seed": "seed", "dataset.classes": "classes",
    "dataset.per_class": "per class", "preprocessing.standardize": "standardize", "augmentation.noise_std": "input noise",
    "augmentation.rotation_deg": "rotation °", "augmentation.scale": "zoom", "augmentation.shift": "shift",
    "model.arch": "architecture", "model.activation": "activation", "model.activations": "per-layer act.",
    "model.leaky_slope": "leaky slope", "model.batch_norm": "batch norm", "model.bn_alpha": "BN alpha",
    "model.dropout": "dropout", "model.dropouts": "per-layer dropout", "model.conv_channels": "conv channels",
    "init.scheme": "scheme", "init.std": "std / value", "init.xavier_mode": "xavier variance", "optimizer.name": "name",
    "optimizer.lr": "learning rate", "optimizer.momentum": "momentum α", "optimizer.betas": "betas", "optimizer.rho": "rho",
    "optimizer.eps": "eps", "optimizer.weight_decay": "weight decay λ", "optimizer.decay_biases": "decay biases",
    "schedule.name": "schedule", "schedule.step_size": "step size", "schedule.gamma": "gamma", "schedule.factor": "factor",
    "schedule.patience": "patience", "schedule.min_lr": "min LR", "training.epochs": "epochs", "training.batch_size": "batch size",
    "training.seed": "seed", "training.device": "device", "early_stopping.enabled": "enabled",
    "early_stopping.monitor": "monitor", "early_stopping.patience": "patience", "early_stopping.min_delta": "min delta",
    "early_stopping.restore_best": "restore best", "transfer.source": "source", "transfer.strategy": "strategy",
    "transfer.k": "k (last layers)", "transfer.feature_lr_scale": "feature LR ×", "telemetry.enabled": "probes",
    "telemetry.histogram_every": "histograms every", "telemetry.bins": "bins", "telemetry.surface_every": "surface every",
    "telemetry.surface_resolution": "surface cells", "telemetry.mc_samples": "MC passes", "telemetry.grad_samples": "grad. samples",
    "telemetry.probe_size": "probe size", "telemetry.max_checkpoints": "checkpoints",
  },
  es: {
    "dataset.name": "conjunto", "dataset.n_samples": "muestras", "dataset.noise": "ruido",
    "dataset.val_fraction": "parte de validación", "dataset.seed": "semilla", "dataset.classes": "clases",
    "dataset.per_class": "por clase", "preprocessing.standardize": "estandarizar", "augmentation.noise_std": "ruido de entrada",
    "augmentation.rotation_deg": "rotación °", "augmentation.scale": "escala", "augmentation.shift": "desplazamiento",
    "model.arch": "arquitectura", "model.activation": "activación", "model.activations": "activ. por capa",
    "model.leaky_slope": "pendiente leaky", "model.batch_norm": "batch norm", "model.bn_alpha": "alfa de BN",
    "model.dropout": "dropout", "model.dropouts": "dropout por capa", "model.conv_channels": "canales conv",
    "init.scheme": "método", "init.std": "desvío / valor", "init.xavier_mode": "varianza xavier", "optimizer.name": "nombre",
    "optimizer.lr": "tasa de aprendizaje", "optimizer.momentum": "momentum α", "optimizer.betas": "betas", "optimizer.rho": "rho",
    "optimizer.eps": "eps", "optimizer.weight_decay": "weight decay λ", "optimizer.decay_biases": "penalizar sesgos",
    "schedule.name": "programa", "schedule.step_size": "cada (épocas)", "schedule.gamma": "gamma", "schedule.factor": "factor",
    "schedule.patience": "paciencia", "schedule.min_lr": "LR mínimo", "training.epochs": "épocas", "training.batch_size": "tamaño de batch",
    "training.seed": "semilla", "training.device": "dispositivo", "early_stopping.enabled": "activado",
    "early_stopping.monitor": "métrica", "early_stopping.patience": "paciencia", "early_stopping.min_delta": "delta mínimo",
    "early_stopping.restore_best": "recuperar la mejor", "transfer.source": "origen", "transfer.strategy": "estrategia",
    "transfer.k": "k (últimas capas)", "transfer.feature_lr_scale": "LR de features ×", "telemetry.enabled": "sondas",
    "telemetry.histogram_every": "histogramas cada", "telemetry.bins": "intervalos", "telemetry.surface_every": "superficie cada",
    "telemetry.surface_resolution": "celdas de superficie", "telemetry.mc_samples": "pasadas MC", "telemetry.grad_samples": "muestras de grad.",
    "telemetry.probe_size": "tamaño de sonda", "telemetry.max_checkpoints": "checkpoints",
  },
};

export function lang() {
  const saved = localStorage.nnpLang;
  if (saved === "en" || saved === "es") return saved;
  return (navigator.language || "en").toLowerCase().startsWith("es") ? "es" : "en";
}

export function setLang(l) {
  localStorage.nnpLang = l;
  document.documentElement.lang = l;
}

export function t(key, vars = {}) {
  const s = STRINGS[lang()][key] ?? STRINGS.en[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => vars[k] ?? "");
}

export function fieldLabel(path) {
  return FIELDS[lang()][path] ?? FIELDS.en[path] ?? path.split(".").at(-1).replaceAll("_", " ");
}

export function applyI18n(root = document) {
  document.documentElement.lang = lang();
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
}
