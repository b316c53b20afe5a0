"""Outputs for people and other tools: exports, process maps, the HTML report."""
