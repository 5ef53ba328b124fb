"""A mural in time: the only layer that combines events, engine, render, safety and sinks."""
