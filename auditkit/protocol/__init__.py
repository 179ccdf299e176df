"""The paper's section 4 as an engine: group pools, within/cross splits, and the resumable runner."""
