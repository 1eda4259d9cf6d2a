// English and Spanish for every text of the UI (the course is taught in Spanish). The language
// defaults to the browser's and is remembered. Field labels cover every configuration field; a field
// added to the engine without a label here shows its own name until one is written.

const STRINGS = {
  en: {
    "mark.best": "best", "mark.early_stop": "early stop", "mark.diverged": "diverged",
    "lesson.share": "Share this lesson",
    "lab.failed": "No paths: see the message below.", "lab.steps_range": "The steps run from 1 to {max}: {n} are used.",
    "layers.one": "1 hidden layer", "layers.cnn": "{c} conv layers + {dense}",
    "msg.customempty": "Your own data: pick a 2-D data set (circle, moons…) and draw on it, or load a CSV file.",
    "msg.customstart": "Your own data: the points on screen are yours now. Click to add a point, shift-click for the other class.",
    "msg.fixfirst": "Not started: fix the highlighted field first ({fields}). The run uses exactly the values shown.",
    "msg.blewup": "The run finished but did not learn: the validation loss went from {a} to {b}. The learning rate is probably too large.",
    "status.blewup": "completed: loss exploded",
    "hide.note": "This link shows only what the lesson needs.", "hide.all": "show every control",
    "share.lesson": "Copy a link to this lesson, with only the sections it needs",
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
    "lesson.claims": "The lesson's claims, measured on this run", "lesson.claim_holds": "holds on this run",
    "lesson.claim_fails": "does not hold on this run",
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
    "hist.dead": "dead {p}%", "hist.saturated": "saturated {p}%", "hist.epochs": "epochs {a}–{b}",
    "hist.nodata": "no {kind} data", "chart.yloss": "loss",
    "tip.speed": "Epochs per second (0 = as fast as possible)", "tip.addlayer": "Add a hidden layer",
    "tip.dellayer": "Remove the last hidden layer", "tip.mc": "MC dropout: spread of T passes with dropout on",
    "tip.draw": "Click to add a point, shift-click for the other class", "tip.pin": "Overlay this run's curves on the next runs",
    "out.mc_legend": "MC-dropout spread (std), max {max}", "out.curve_legend": "fitted curve (line), training points (orange)",
    "out.train_points": "training points", "out.images_legend": "predicted label and confidence; red frame = wrong",
    "out.val_images": "validation images", "out.true_pred": "true \\ pred", "out.true_predicted": "true {label}, predicted {pred}",
    "out.confusion_legend": "validation confusion matrix",
    "out.confusion_empty": "{name}: {f} features, {n} classes.\nThe confusion matrix appears when training starts.", "lab.remove": "remove", "ctl.none": "none",
    "msg.seefields": "{error}: see the highlighted fields", "err.unreachable": "the server cannot be reached",
    "err.number": "a number is needed", "err.whole": "a whole number is needed", "err.ge": "at least {n}",
    "err.le": "at most {n}", "err.gt": "more than {n}", "err.lt": "less than {n}", "err.needed": "a value is needed",
    "err.list": "a comma-separated list is needed", "err.item": "item {i}: {msg}", "err.oneof": "one of {list}",
    "err.min_items": "at least {n} items", "err.max_items": "at most {n} items", "err.missing": "this field is required",
    "err.extra": "unknown field", "err.bool": "true or false", "err.strlong": "at most {n} characters",
    "err.or": "or", "err.invalid_config": "invalid configuration", "err.invalid_params": "invalid parameters",
    "net.weight": "{layer}: weight from {from} to {to} = {v}", "net.bias": "{layer} unit {k}: bias {b}",
    "net.addunit": "add a unit", "net.removeunit": "remove a unit",
    "chart.train": "train", "chart.validation": "validation", "chart.penalty": "penalty ½λ‖w‖²", "chart.baseline": "baseline",
    "health": "{alive} workers · {busy} busy · {queued} queued", "room.code": "room code", "room.name": "your name",
    "room.join": "Join room", "room.label": "Room", "room.leave": "leave", "room.closed": "The teacher closed the room.",
    "room.teacher_run": "The teacher's run", "room.spotlight": "Spotlight: {name}'s run", "room.a_student": "a student",
    "room.following_lesson": " «{title}»: your page follows it; ▶ starts your own run.",
    "room.following_plain": ": your page follows it; ▶ starts your own run.", "room.lesson": "New lesson from the teacher: {title}",
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
    "t.stop_all": "stop all", "t.stop_all_title": "Stop every run of {name}", "t.remove": "remove",
    "t.remove_confirm": "Remove {name} from room {code} and stop their runs? They cannot join this room again.",
    "t.removed": "{name} was removed; runs stopped: {n}", "t.stopped_all": "Runs of {name} stopped: {n}",
    "t.transferred": "⇄ transferred",
    "t.not_classroom": "This server is not in classroom mode: start it with nnplayground serve --classroom.",
    "t.create_start": "Create a room to start.", "t.create_first": "Create a room first.",
    "t.room_closed": "Room {code} is closed.", "t.spotlight_on": "Spotlight on {name}'s run {id}.",
    "t.broadcasting": "Broadcasting run {id}.", "t.broadcasting_lesson": "Broadcasting «{title}» (run {id}).",
    "t.bc_progress": "{status}, epoch {epoch}/{epochs}, best val loss {loss}", "t.count": "{n} students, {online} online",
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
    "mark.best": "mejor", "mark.early_stop": "early stop", "mark.diverged": "divergió",
    "lesson.share": "Compartir esta lección",
    "lab.failed": "Sin caminos: mirá el mensaje de abajo.", "lab.steps_range": "Los pasos van de 1 a {max}: se usan {n}.",
    "layers.one": "1 capa oculta", "layers.cnn": "{c} capas conv + {dense}",
    "msg.customempty": "Datos propios: elegí un conjunto 2-D (circle, moons…) y dibujá sobre él, o cargá un archivo CSV.",
    "msg.customstart": "Datos propios: los puntos en pantalla ahora son tuyos. Clic para agregar un punto, shift-clic para la otra clase.",
    "msg.fixfirst": "No se inició: primero corregí el campo marcado ({fields}). La corrida usa exactamente los valores que se ven.",
    "msg.blewup": "La corrida terminó pero no aprendió: la pérdida de validación pasó de {a} a {b}. Probablemente la tasa de aprendizaje es demasiado grande.",
    "status.blewup": "terminada: la pérdida explotó",
    "hide.note": "Este enlace muestra solo lo que la lección necesita.", "hide.all": "mostrar todos los controles",
    "share.lesson": "Copiar un enlace a esta lección, solo con las secciones que necesita",
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
    "lesson.claims": "Lo que afirma la lección, medido en esta corrida", "lesson.claim_holds": "se cumple en esta corrida",
    "lesson.claim_fails": "no se cumple en esta corrida",
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
    "hist.dead": "muertas {p}%", "hist.saturated": "saturadas {p}%", "hist.epochs": "épocas {a}–{b}",
    "hist.nodata": "sin datos ({kind})", "chart.yloss": "pérdida",
    "tip.speed": "Épocas por segundo (0 = lo más rápido posible)", "tip.addlayer": "Agregar una capa oculta",
    "tip.dellayer": "Quitar la última capa oculta", "tip.mc": "MC dropout: dispersión de T pasadas con dropout activo",
    "tip.draw": "Clic para agregar un punto, mayúscula+clic para la otra clase", "tip.pin": "Superponer las curvas de esta corrida en las siguientes",
    "out.mc_legend": "dispersión de MC dropout (desvío), máx. {max}", "out.curve_legend": "curva ajustada (línea), puntos de entrenamiento (naranja)",
    "out.train_points": "puntos de entrenamiento", "out.images_legend": "etiqueta predicha y confianza; marco rojo = error",
    "out.val_images": "imágenes de validación", "out.true_pred": "real \\ pred.", "out.true_predicted": "real {label}, predicho {pred}",
    "out.confusion_legend": "matriz de confusión (validación)",
    "out.confusion_empty": "{name}: {f} atributos, {n} clases.\nLa matriz de confusión aparece al empezar el entrenamiento.", "lab.remove": "quitar", "ctl.none": "ninguno",
    "msg.seefields": "{error}: mirá los campos marcados", "err.unreachable": "no se puede contactar al servidor",
    "err.number": "se necesita un número", "err.whole": "se necesita un número entero", "err.ge": "como mínimo {n}",
    "err.le": "como máximo {n}", "err.gt": "mayor que {n}", "err.lt": "menor que {n}", "err.needed": "falta un valor",
    "err.list": "se necesita una lista separada por comas", "err.item": "elemento {i}: {msg}", "err.oneof": "uno de {list}",
    "err.min_items": "al menos {n} elementos", "err.max_items": "como máximo {n} elementos", "err.missing": "este campo es obligatorio",
    "err.extra": "campo desconocido", "err.bool": "verdadero o falso", "err.strlong": "como máximo {n} caracteres",
    "err.or": "o", "err.invalid_config": "configuración inválida", "err.invalid_params": "parámetros inválidos",
    "net.weight": "{layer}: peso de {from} a {to} = {v}", "net.bias": "{layer} unidad {k}: sesgo {b}",
    "net.addunit": "añadir una unidad", "net.removeunit": "quitar una unidad",
    "chart.train": "entrenamiento", "chart.validation": "validación", "chart.penalty": "penalización ½λ‖w‖²", "chart.baseline": "referencia",
    "health": "{alive} procesos · {busy} ocupados · {queued} en cola", "room.code": "código de sala", "room.name": "tu nombre",
    "room.join": "Entrar a la sala", "room.label": "Sala", "room.leave": "salir", "room.closed": "El docente cerró la sala.",
    "room.teacher_run": "La corrida del docente", "room.spotlight": "En foco: la corrida de {name}", "room.a_student": "un estudiante",
    "room.following_lesson": " «{title}»: tu página la sigue; ▶ inicia tu propia corrida.",
    "room.following_plain": ": tu página la sigue; ▶ inicia tu propia corrida.", "room.lesson": "Nueva lección del docente: {title}",
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
    "t.stop_all": "detener todo", "t.stop_all_title": "Detener todas las corridas de {name}", "t.remove": "expulsar",
    "t.remove_confirm": "¿Expulsar a {name} de la sala {code} y detener sus corridas? No podrá volver a entrar en esta sala.",
    "t.removed": "{name} fue expulsado/a; corridas detenidas: {n}", "t.stopped_all": "Corridas de {name} detenidas: {n}",
    "t.transferred": "⇄ transferido",
    "t.not_classroom": "Este servidor no está en modo aula: inicialo con nnplayground serve --classroom.",
    "t.create_start": "Creá una sala para empezar.", "t.create_first": "Primero creá una sala.",
    "t.room_closed": "La sala {code} está cerrada.", "t.spotlight_on": "En foco: la corrida {id} de {name}.",
    "t.broadcasting": "Transmitiendo la corrida {id}.", "t.broadcasting_lesson": "Transmitiendo «{title}» (corrida {id}).",
    "t.bc_progress": "{status}, época {epoch}/{epochs}, mejor pérdida val. {loss}", "t.count": "{n} estudiantes, {online} conectados",
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

// Spanish for the catalog's field descriptions (the tooltips); English comes from the server's schema.
const DESCRIPTIONS_ES = {
  "dataset.name": "Qué conjunto de datos aprender.", "dataset.n_samples": "Muestras generadas (limitadas en los datos reales).",
  "dataset.noise": "Ruido en etiquetas/atributos, como fracción de la escala de los datos.",
  "dataset.val_fraction": "Parte de las muestras reservada para validación.", "dataset.seed": "Semilla del generador y de la partición.",
  "dataset.classes": "digits: solo estas clases de dígitos.", "dataset.per_class": "digits: como mucho tantas muestras de entrenamiento por clase.",
  "dataset.points": "custom: filas de atributos seguidas de la clase (entero).",
  "preprocessing.standardize": "Estandarizar (z) con la media y el desvío del entrenamiento (imágenes: solo restar la media).",
  "augmentation.noise_std": "Ruido gaussiano sumado a las entradas de entrenamiento en cada época.",
  "augmentation.rotation_deg": "Imágenes: rotación al azar de hasta tantos grados.", "augmentation.scale": "Imágenes: zoom al azar de hasta esta fracción.",
  "augmentation.shift": "Imágenes: desplazamiento al azar de hasta esta fracción.", "model.arch": "auto: una CNN para imágenes, si no un MLP.",
  "model.hidden": "Ancho de cada capa oculta, desde la entrada.", "model.activation": "Activación de todas las capas ocultas.",
  "model.activations": "Activación por capa (opcional).", "model.leaky_slope": "Pendiente de leaky_relu para entradas negativas.",
  "model.batch_norm": "Normalizar las preactivaciones (Lineal → BN → activación).",
  "model.bn_alpha": "Estadísticas móviles: μ = α·μ + (1−α)·μ_lote.", "model.dropout": "Probabilidad de apagar una unidad oculta.",
  "model.dropouts": "Dropout por capa (opcional).", "model.conv_channels": "CNN: canales de cada bloque convolucional.",
  "init.scheme": "Cómo empiezan los pesos.", "init.std": "normal: desvío estándar; constant: el valor.",
  "init.xavier_mode": "xavier: varianza 1/fan_in (curso) o 2/(fan_in+fan_out) (Glorot).", "optimizer.name": "Regla de actualización.",
  "optimizer.lr": "Tasa de aprendizaje (δ en la notación del curso).", "optimizer.momentum": "momentum/nesterov: α de V = α·V + (1−α)·g.",
  "optimizer.betas": "adam/adamw: decaimiento de los promedios del primer y segundo momento.",
  "optimizer.rho": "rmsprop: decaimiento del promedio del gradiente al cuadrado.", "optimizer.eps": "optimizadores adaptativos: término de seguridad numérica.",
  "optimizer.weight_decay": "λ de la penalización (1/2)·λ·‖w‖².", "optimizer.decay_biases": "Penalizar también sesgos y parámetros de batch norm.",
  "schedule.name": "Cómo cambia la tasa de aprendizaje con las épocas.", "schedule.step_size": "step: épocas entre reducciones.",
  "schedule.gamma": "step/exponential: factor por paso/época.", "schedule.factor": "plateau: factor cuando la pérdida de validación se estanca.",
  "schedule.patience": "plateau: épocas seguidas sin mejora (desde la época 0) antes de multiplicar la tasa por el factor.",
  "schedule.min_lr": "plateau/cosine: piso de la tasa de aprendizaje.", "training.epochs": "Pasadas sobre los datos de entrenamiento.",
  "training.batch_size": "Muestras por actualización (como mucho el tamaño del entrenamiento).",
  "training.seed": "Semilla de pesos, mezcla, dropout y aumento de datos.",
  "training.device": "Dónde entrenar; auto usa una GPU para CNN y modelos grandes, si no la CPU.",
  "early_stopping.enabled": "Parar cuando la métrica vigilada deja de mejorar.",
  "early_stopping.monitor": "Métrica vigilada; también decide la mejor época mientras la parada temprana está activa.",
  "early_stopping.patience": "El entrenamiento para al final de tantas épocas seguidas sin mejora, contando desde la época 0.",
  "early_stopping.min_delta": "Mejorar es superar el mejor valor por más que esto.",
  "early_stopping.restore_best": "Al terminar la corrida (salvo si divergió), devolver los pesos de la mejor época.",
  "telemetry.enabled": "Sondas por capa (normas del gradiente, unidades muertas...). Apagado = solo pérdidas.",
  "telemetry.histogram_every": "Épocas entre histogramas (0 = nunca).", "telemetry.bins": "Cantidad de intervalos del histograma.",
  "telemetry.surface_every": "Épocas entre vistas de la superficie/curva (0 = nunca).",
  "telemetry.surface_resolution": "Celdas por lado de la superficie de decisión.",
  "telemetry.mc_samples": "Con dropout: pasadas de MC dropout para la incertidumbre (0 = apagado).",
  "telemetry.grad_samples": "Pasos por época en que se miden las normas del gradiente (0 = todos).",
  "telemetry.probe_size": "Muestras del lote fijo de sondeo.", "telemetry.max_checkpoints": "Puntos de control guardados; más allá, los viejos se ralean.",
};

// A field's tooltip: the server's description in English, ours in Spanish.
export function fieldDescription(path, english) {
  return lang() === "es" ? DESCRIPTIONS_ES[path] ?? "" : english || "";
}

// pydantic's error types (the 422 detail's `type`, with its `ctx`) as our keys: the message in the
// page's language. Other types (a cross-field rule's value_error) keep the server's English wording.
const ERROR_TYPES = {
  greater_than: ["err.gt", "gt"], greater_than_equal: ["err.ge", "ge"], less_than: ["err.lt", "lt"],
  less_than_equal: ["err.le", "le"], int_type: ["err.whole"], int_parsing: ["err.whole"], int_from_float: ["err.whole"],
  float_type: ["err.number"], float_parsing: ["err.number"], finite_number: ["err.number"], literal_error: ["err.oneof", "expected", "list"],
  enum: ["err.oneof", "expected", "list"], missing: ["err.missing"], extra_forbidden: ["err.extra"], bool_type: ["err.bool"],
  bool_parsing: ["err.bool"], list_type: ["err.list"], too_short: ["err.min_items", "min_length"],
  too_long: ["err.max_items", "max_length"], string_too_long: ["err.strlong", "max_length"],
};

// One 422 detail entry {field, message, type, ctx} as the page's language words it.
export function fieldMessage(d) {
  const known = lang() !== "en" && d.type && ERROR_TYPES[d.type];
  if (!known) return d.message;
  const [key, ctxKey, name = "n"] = known;
  const ctx = d.ctx || {};
  if (ctxKey && ctx[ctxKey] === undefined) return d.message;
  // pydantic's choice lists end "'a' or 'b'": the conjunction in the page's language too
  const value = name === "list" ? String(ctx[ctxKey]).replace(/ or /g, ` ${t("err.or")} `) : ctx[ctxKey];
  return t(key, ctxKey ? { [name]: value } : {});
}

// The server's one-line `error` of a 422, where it is one of the fixed ones.
const SERVER_ERRORS = { "invalid configuration": "err.invalid_config", "invalid parameters": "err.invalid_params" };
export function serverError(text) {
  return SERVER_ERRORS[text] ? t(SERVER_ERRORS[text]) : text;
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
