"""What every package uses: errors, config dataclasses, paths, atomic writes, progress, seeding, AMP,
the valid-depth definition and markdown tables.
"""
