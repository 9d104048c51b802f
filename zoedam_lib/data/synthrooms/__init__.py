"""SynthRooms, the procedural indoor scenes everything runs on offline: rooms, styles, cameras, domains."""
