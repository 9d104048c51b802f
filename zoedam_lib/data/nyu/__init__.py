"""NYU Depth V2 in its official ``.mat`` layout: the reader, the writer SynthRooms uses, the download."""
