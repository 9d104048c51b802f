"""The layers models are built from: DINOv2 ViT, DPT decoder, ZoeDepth's metric bins, preprocessing."""
