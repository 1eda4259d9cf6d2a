// The one message box of every page (#toast): errors in red, information in blue, gone after a while.
let timer = null;

export function toast(text, kind = "error", ms = 6000) {
  const box = document.getElementById("toast");
  box.textContent = text;
  box.className = `toast ${kind === "info" ? "info" : ""}`;
  box.hidden = false;
  clearTimeout(timer);
  timer = setTimeout(() => { box.hidden = true; }, ms);
}
