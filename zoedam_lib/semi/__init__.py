"""ZoeDAM+: pseudo-labels, strong perturbations, CutMix and the student step."""
