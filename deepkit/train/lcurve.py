"""lcurve.out: one row per disp_freq steps, DeePMD-kit's columns."""

from __future__ import annotations

from pathlib import Path


class LearningCurve:
    """Columns: step, then rmse_val/rmse_trn pairs of each metric (trn only without
    validation data), then lr. Appends on restart; flushed after every row."""

    def __init__(self, path: Path, metrics: list[str], validation: bool, append: bool):
        self.metrics, self.validation = metrics, validation
        new = not (append and path.exists())
        self.file = open(path, "w" if new else "a", buffering=1)  # noqa: SIM115 - kept open
        if new:
            cols = [f"{'step':>7}"]
            for m in metrics:
                cols += (
                    [f"{m + '_val':>11}", f"{m + '_trn':>11}"]
                    if validation
                    else [f"{m + '_trn':>11}"]
                )
            self.file.write("#" + " ".join(cols) + f" {'lr':>10}\n")

    def write(self, step: int, train: dict, valid: dict | None, lr: float) -> None:
        cols = [f"{step:8d}"]
        for m in self.metrics:
            if self.validation:
                cols.append(f"{valid[m]:11.2e}")
            cols.append(f"{train[m]:11.2e}")
        self.file.write(" ".join(cols) + f" {lr:10.1e}\n")

    def close(self) -> None:
        self.file.close()
