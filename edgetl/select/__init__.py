"""Backbone selection: the Pareto front of measured probe accuracy vs latency, and the rule that picks."""

from edgetl.select.rule import DEFAULT_SLACK, Pick, Point, choose, pareto_front

__all__ = ["DEFAULT_SLACK", "Pick", "Point", "choose", "pareto_front"]
