"""The Omniglot one-shot task: images and episodes (data), the pre-trained ProtoNet encoder
(protonet), the memory network (network) and its train/test/plot driver (run)."""
