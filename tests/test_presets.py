"""The recipe line the notebooks print (experiments.presets.recipe_line)."""

from __future__ import annotations

from zoedam_lib.experiments.presets import recipe_for, recipe_line


def test_recipe_line_shows_the_validation_images_used_beside_the_cap():
    recipe = recipe_for("densedepth", "cpu", seed=0)
    assert recipe.n_val == 48
    line = recipe_line(recipe, ("epochs", "n_val", "threads"), n_val_available=43)
    assert line == "**Recipe `cpu`**: n_val=43 (cap 48), threads=1, epochs=4"
    assert recipe_line(recipe, ("n_val",), n_val_available=100) == "**Recipe `cpu`**: n_val=48"  # the cap binds
