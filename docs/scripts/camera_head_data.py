"""Camera-head data-size experiment (issue 24, docs/camera.md): does more `lenses` data bring the focal error down?

Run from the repository root after `make demo` (it reads runs/demo/checkpoints/zoedam_vits); renders 6,000
`lenses` rooms into /tmp/exp/lens6k and writes /tmp/exp/head_exp.json. Argument: the thread count (default 2).
"""
import json
import sys
import time

import numpy as np
import torch

from zoedam_lib.checkpoints import load_checkpoint
from zoedam_lib.data.nyu.reader import NyuMat
from zoedam_lib.data.synthrooms.generate import generate_domain
from zoedam_lib.experiments import camera as cam

if __name__ == "__main__":
    torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
    N = 6000
    t = time.time()
    path = generate_domain("lenses", "/tmp/exp/lens6k", n=N, progress=False)
    print("rendered", N, round(time.time() - t), "s", flush=True)
    model, _ = load_checkpoint("runs/demo/checkpoints/zoedam_vits")
    model.eval()
    lenses = NyuMat(path)
    mixed = NyuMat("data/synthrooms/zeroshot_mixed.mat")
    hold = list(range(N - 300, N))
    rng = np.random.default_rng(0)
    pool = rng.permutation(N - 300).tolist()
    t = time.time()
    images, cameras = cam._views(lenses, sorted(pool), rng, crops=True)
    tokens_all = cam._tokens(model, images)
    target_all = cam._log_ratio(model, cameras, tuple(images.shape[-2:]))
    del images
    order = {i: k for k, i in enumerate(sorted(pool))}
    print("tokens", round(time.time() - t), "s", flush=True)
    init = {k: v.clone() for k, v in model.camera_head.state_dict().items()}
    out = {}
    for n_train, wd in ((1350, 0.01), (2700, 0.01), (5700, 0.01), (5700, 0.1)):
        model.camera_head.load_state_dict(init)
        for m in model.camera_head.modules():
            if hasattr(m, "reset_parameters"):
                m.reset_parameters()
        torch.nn.init.zeros_(model.camera_head.out.weight)
        torch.nn.init.zeros_(model.camera_head.out.bias)
        idx_all = torch.tensor([order[i] for i in pool[:n_train]])
        tokens = [tk[idx_all] for tk in tokens_all]
        target = target_all[idx_all]
        head = model.camera_head
        t = time.time()
        cam.fit_head(head, tokens, target, epochs=40, lr=1e-3, batch_size=64, seed=0, weight_decay=wd, progress=False)
        with torch.no_grad():
            tr = (head([tk[:2000] for tk in tokens]) - target[:2000]).abs().mean().item()
        eh = cam.focal_errors(model, lenses, hold)
        em = cam.focal_errors(model, mixed)
        key = f"n{n_train}_wd{wd}"
        out[key] = dict(train_l1=round(tr, 4), hold_med=round(float(np.median(eh)), 4),
                        hold_p90=round(float(np.quantile(eh, .9)), 4), mixed_med=round(float(np.median(em)), 4),
                        mixed_p90=round(float(np.quantile(em, .9)), 4), secs=round(time.time() - t))
        print(key, out[key], flush=True)
    with open("/tmp/exp/head_exp.json", "w") as f:
        json.dump(out, f, indent=1)
