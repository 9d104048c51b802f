"""Files in and out: reading images (EXIF-rotated), collecting inputs, depth/colour PNG, PLY and the mesh."""
